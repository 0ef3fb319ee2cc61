// moearch: the one header generated HLS C++ includes.
//
// With Vitis HLS (__SYNTHESIS__ defined) it includes the vendor <ap_int.h> and <hls_stream.h>;
// with a plain C++17 compiler it provides the documented subsets in ap_int_compat.h and
// hls_stream_compat.h, so the same source runs as a C simulation under g++ -Wall -Werror.
//
// Pragmas: g++ warns about unknown pragmas under -Wall (and GCC before 13 ignores
// "#pragma GCC diagnostic ignored -Wunknown-pragmas" for them in C++), so generated code writes
//   MOEARCH_HLS_PRAGMA(HLS PIPELINE II=1)
// which expands to _Pragma("HLS PIPELINE II=1") for synthesis and to nothing otherwise. Code that
// uses raw "#pragma HLS ..." lines must be compiled with -Wno-unknown-pragmas.
#ifndef MOEARCH_HLS_H
#define MOEARCH_HLS_H

#include "ap_int_compat.h"
#include "hls_stream_compat.h"

#ifdef __SYNTHESIS__
#define MOEARCH_HLS_PRAGMA(text) _Pragma(#text)
#else
#define MOEARCH_HLS_PRAGMA(text)
#endif

#endif  // MOEARCH_HLS_H
