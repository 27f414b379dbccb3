"""The public report: what a conversation concluded, traceable to its votes, and its exports."""
