/* The native benchmark runner's main program: runs one benchmark of the
 * registry as a static Linux process and prints one FLUID-BENCH JSON line
 * (the schema of src/protocol/protocol.toml). */
#ifndef FLUID_NATIVE_BENCH_MAIN_H
#define FLUID_NATIVE_BENCH_MAIN_H

int bench_main(int argc, char **argv);

#endif
