"""CVAT's upload protocol (SPEC 7.4): multipart, CVAT's TUS flow, or a cloud storage object."""
