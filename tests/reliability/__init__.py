"""Reliability and security suite: durability, secrets, faults over real sockets."""
