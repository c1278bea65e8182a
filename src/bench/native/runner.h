/* The native benchmark runner: runs one benchmark of the registry as a
 * static Linux process and prints one FLUID-BENCH JSON line. */
#ifndef FLUID_NATIVE_RUNNER_H
#define FLUID_NATIVE_RUNNER_H

int runner_main(int argc, char **argv);

#endif
