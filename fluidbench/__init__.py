"""Host-side companions of the Fluid OS benchmarks (src/bench/): independent
correctness references and single-threaded host throughput peers."""
