// specee_prelude.cuh — the one include every kernel .cu starts with.
//
// Under NVRTC (real GPU) the CUDA backend supplies an in-memory header of this name that declares the
// CUDA built-ins without the toolkit headers. Under the CPU simulator (-DSPECEE_CUDASIM) this file is
// found first on the include path and maps the same names onto the simulator (cudasim.h).
#pragma once

#ifdef SPECEE_CUDASIM
#include "cudasim.h"
#else
#error "specee_prelude.cuh from native/cudasim is the simulator shim; NVRTC must get the in-memory prelude"
#endif
