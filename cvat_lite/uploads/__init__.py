"""CVAT's upload protocol (contract 7.4): multipart, CVAT's TUS flow, or a cloud storage object."""
