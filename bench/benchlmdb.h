/*
 * benchlmdb.h — the LMDB baseline that bench-backup and bench-xbackup share: an environment loaded
 * with the workload's records (benchutil.h's keys and values) to a given size, for mdb_copy and
 * cp+sync to copy. Failures end the program through bu_fail (the work directory is removed).
 */
#ifndef JETSNAP_BENCHLMDB_H
#define JETSNAP_BENCHLMDB_H

#include <stddef.h>
#include <stdint.h>

/* Fail (bu_fail) naming the call when an LMDB call returned rc != 0. */
void bl_check(int rc, const char *what);
/* Load records 0, 1, ... (keys of key_size, values of value_size, MDB_APPEND, txn_size per
 * transaction, no sync until the end) into a new environment in the existing directory dir until
 * data.mdb holds at least target bytes; then sync it and close it. Returns the records loaded. */
uint64_t bl_load(const char *dir, uint64_t target, size_t key_size, size_t value_size, uint64_t txn_size);

#endif
