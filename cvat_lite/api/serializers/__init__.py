"""Read and write models shared by several API modules."""
