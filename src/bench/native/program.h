/* The one program a native executable runs. start.c (the process entry) calls
 * it; each native program defines it: src/bench/native/bench_main.c (the
 * benchmark runner) and src/infer/native/infer_main.c (the inference runner). */
#ifndef FLUID_NATIVE_PROGRAM_H
#define FLUID_NATIVE_PROGRAM_H

int program_main(int argc, char **argv);

#endif
