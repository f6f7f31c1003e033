"""Pictures of Raft (plotly only): every figure is a function of a trace or a snapshot, never of the simulator."""
