"""Read models shared by the services: which generation of each is in use."""
