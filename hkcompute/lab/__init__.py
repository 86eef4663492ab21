"""The container lab: a Docker engine, base images and systemd containers standing in for hosts."""
