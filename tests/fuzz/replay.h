/*
 * replay.h — what the fuzz targets of tests/fuzz/ share: the libFuzzer entry point each of them
 * defines, and the corpus replay driver that lets every build run a committed corpus through a
 * target without clang (the unit tests fuzz-*-corpus).
 */
#ifndef JETSNAP_FUZZ_REPLAY_H
#define JETSNAP_FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* The target: one input, data[0..size). Returns 0; a broken property aborts the process. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_replay: run every file named by paths[0..npaths) through LLVMFuzzerTestOneInput; a
 * directory stands for its files (dot files skipped) in name order, so a replay is repeatable.
 * Prints "NAME: N inputs, no crash" at the end. Returns the process exit status: 0 when at least
 * one input ran and every path could be read, else 1 (after a message on stderr). */
int fuzz_replay(const char *name, int npaths, char **paths);

#endif
