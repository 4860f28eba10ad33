"""The live room: per-process hub, snapshots, presence and admission (see hub.py)."""
