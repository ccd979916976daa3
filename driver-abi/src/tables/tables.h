// Internal to driver-abi: the private export tables handed out by cuGetExportTable
// (export_table.cc). Each accessor returns the same static table for the life of the process;
// the UUIDs and slot contracts are in section 2 of cuda-driver-facts.md.
//
// Thread safety: tables are constant after static initialisation; their functions may be called
// from any thread.
#pragma once

#include <cstdint>

namespace gpool::abi::tables {

const void* cudart_interface();              // 6bd5fb6c5bf4e74a8987d93912fd9df9
const void* tools_runtime_callback_hooks();  // a094798c2e742e7493f20800200c0a66
const void* tools_tls();                     // 42d85a8123f6cb478298f6e78a3aecdc
const void* context_local_storage();         // c693336e1121df11a8c368f355d89593
const void* context_checks();                // 263e88607cd2614392f6bbd5006dfa7e
const void* integrity_check();               // d4082055bde6704b8d34ba123c66e1f2
const void* cublas_private();                // 21318c60971432488ca641ff7324c8f2
const void* cufft_private();                 // 6e163fbeb958444d835ce182aff1991e
const void* gpool_info();                    // gpool's own table, see gpool/driver_abi/info_table.h

// The stub for slots whose meaning is unknown: takes any arguments, returns 0.
uintptr_t stub_return_zero();

}  // namespace gpool::abi::tables
