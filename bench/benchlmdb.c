/*
 * benchlmdb.c — the LMDB environment bench-backup and bench-xbackup copy (benchlmdb.h).
 */
#include <lmdb.h>
#include <stdlib.h>

#include "benchlmdb.h"
#include "benchutil.h"

void bl_check(int rc, const char *what)
{
    if (rc != MDB_SUCCESS)
        bu_fail("LMDB: %s returned %d (%s)", what, rc, mdb_strerror(rc));
}

uint64_t bl_load(const char *dir, uint64_t target, size_t key_size, size_t value_size, uint64_t txn_size)
{
    unsigned char *key = malloc(key_size), *val = malloc(value_size);
    if (!key || !val)
        bu_fail("out of memory");
    MDB_env *env;
    MDB_dbi dbi = 0;
    MDB_txn *txn;
    bl_check(mdb_env_create(&env), "mdb_env_create");
    bl_check(mdb_env_set_mapsize(env, (size_t)(target * 2 + (256u << 20))), "mdb_env_set_mapsize");
    bl_check(mdb_env_open(env, dir, MDB_NOSYNC, 0600), "mdb_env_open");
    uint64_t i = 0;
    for (;;) {
        MDB_envinfo info;
        MDB_stat st;
        bl_check(mdb_env_info(env, &info), "mdb_env_info");
        bl_check(mdb_env_stat(env, &st), "mdb_env_stat");
        if (((uint64_t)info.me_last_pgno + 1) * st.ms_psize >= target)
            break;
        bl_check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
        if (i == 0)
            bl_check(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");
        for (uint64_t end = i + txn_size; i < end; i++) {
            bu_make_key(i, key, key_size);
            bu_make_value(i, val, value_size);
            MDB_val k = {key_size, key}, v = {value_size, val};
            bl_check(mdb_put(txn, dbi, &k, &v, MDB_APPEND), "mdb_put");
        }
        bl_check(mdb_txn_commit(txn), "mdb_txn_commit");
    }
    bl_check(mdb_env_sync(env, 1), "mdb_env_sync");
    mdb_env_close(env);
    free(key);
    free(val);
    return i;
}
