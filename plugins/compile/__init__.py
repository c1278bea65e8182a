"""Generic compiler stages: assembling, compiling to LLVM IR, linking bitcode,
code generation, linking and flattening. Nothing here knows about Fluid OS."""
