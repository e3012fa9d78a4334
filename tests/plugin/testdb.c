/*
 * testdb — the application's side of the plugin's shell tests, through jet.h and libjet.so only:
 * the writer never creates a database, and a shell cannot look into a database's header.
 *
 *   testdb create DIR NAME DB...   create each DB (with one table) in an instance named NAME whose
 *                                  system and log path is DIR (logs of 64 KiB), then terminate it
 *   testdb state DB...             print "DB STATE" for each, STATE being the header's dbstate:
 *                                  just-created, dirty (attached, or left by a crash) or clean
 *
 * Exit 0, or 1 with the failing JET call and error on stderr.
 */
#include <stdio.h>
#include <string.h>

#include "jet.h"

static int create(const char *dir, const char *name, char **dbs, int n);
static int state(char **dbs, int n);
static int failed(const char *what, const char *arg, JET_ERR err);

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "create"))
        return create(argv[2], argv[3], argv + 4, argc - 4);
    if (argc >= 3 && !strcmp(argv[1], "state"))
        return state(argv + 2, argc - 2);
    fprintf(stderr, "usage: testdb create DIR NAME DB... | testdb state DB...\n");
    return 2;
}

static int create(const char *dir, const char *name, char **dbs, int n)
{
    JET_INSTANCE in = 0;
    JET_SESID s = 0;
    JET_ERR err = JetCreateInstance2(&in, name, NULL, 0);
    if (err < 0)
        return failed("JetCreateInstance2", name, err);
    if ((err = JetSetSystemParameter(&in, 0, JET_paramSystemPath, 0, dir)) < 0 ||
        (err = JetSetSystemParameter(&in, 0, JET_paramLogFilePath, 0, dir)) < 0 ||
        (err = JetSetSystemParameter(&in, 0, JET_paramLogFileSize, 64, NULL)) < 0)
        return failed("JetSetSystemParameter", dir, err);
    if ((err = JetInit(&in)) < 0)
        return failed("JetInit", dir, err);
    if ((err = JetBeginSession(in, &s, NULL, NULL)) < 0)
        return failed("JetBeginSession", name, err);
    for (int i = 0; i < n; i++) {
        JET_DBID db = 0;
        JET_TABLEID t = 0;
        if ((err = JetCreateDatabase(s, dbs[i], NULL, &db, 0)) < 0)
            return failed("JetCreateDatabase", dbs[i], err);
        if ((err = JetCreateTable(s, db, "t", 0, 0, &t)) < 0)
            return failed("JetCreateTable", dbs[i], err);
    }
    if ((err = JetTerm(in)) < 0)
        return failed("JetTerm", name, err);
    return 0;
}

static int state(char **dbs, int n)
{
    for (int i = 0; i < n; i++) {
        JET_DBINFOMISC info;
        JET_ERR err = JetGetDatabaseFileInfo(dbs[i], &info, sizeof info, JET_DbInfoMisc);
        if (err < 0)
            return failed("JetGetDatabaseFileInfo", dbs[i], err);
        printf("%s %s\n", dbs[i],
               info.dbstate == JET_dbstateJustCreated     ? "just-created"
               : info.dbstate == JET_dbstateDirtyShutdown ? "dirty"
               : info.dbstate == JET_dbstateCleanShutdown ? "clean"
                                                          : "unknown");
    }
    return 0;
}

static int failed(const char *what, const char *arg, JET_ERR err)
{
    char name[512] = "?";
    JET_API_PTR code = (JET_API_PTR)err;
    JetGetSystemParameter(0, 0, JET_paramErrorToString, &code, name, sizeof name);
    fprintf(stderr, "testdb: %s %s: %s (%ld)\n", what, arg, name, err);
    return 1;
}
