"""Back-ends that ship with the core."""
