// SPDX-License-Identifier: GPL-2.0
/*
 * The trace events of rmigration (rmigration_events.h), and the
 * rust_do_trace_<event>() functions src/trace.rs calls them through.
 */

#define CREATE_TRACE_POINTS
#define CREATE_RUST_TRACE_POINTS
#include "rmigration_events.h"
