"""The moderator console under /console/: setup, queue, participants, signals, audit log."""
