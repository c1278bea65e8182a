/* The native inference runner's main program (infer_main.c). */
#ifndef FLUID_INFER_NATIVE_MAIN_H
#define FLUID_INFER_NATIVE_MAIN_H

int infer_main(int argc, char **argv);

#endif
