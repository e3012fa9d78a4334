#!/usr/bin/env python3
"""Which engine .c file calls a function defined in which other engine .c file, read from the
objects of a build with nm (a symbol undefined in one object and defined in another is a call or a
reference from the first to the second); prints the edges, the strongly connected components
(the call cycles between files) and, for each component of more than two files, one cycle in it.
    scripts/callgraph.py BUILDDIR"""
import glob, os, subprocess, sys

# The engine's objects are those of libjetengine.a (built without instancemgr/ on its path).
objs = sorted(glob.glob(os.path.join(sys.argv[1] if len(sys.argv) > 1 else 'build',
                                     'libjetengine.a.p', '*.c.o')))
if not objs:
    sys.exit('callgraph: no engine objects (build first)')
defined, undef = {}, {}
for o in objs:
    f = os.path.basename(o)[:-len('.o')]
    f = f[len('engine_'):] if f.startswith('engine_') else f
    undef[f] = set()
    for line in subprocess.run(['nm', o], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == 'U':
            undef[f].add(parts[1])
        elif len(parts) == 3 and parts[1] in 'TDBR':
            defined[parts[2]] = f
edges = {f: {} for f in undef}
for f, syms in undef.items():
    for s in syms:
        g = defined.get(s)
        if g and g != f:
            edges[f].setdefault(g, []).append(s)
for f in sorted(edges):
    for g in sorted(edges[f]):
        print(f'{f} -> {g}: {" ".join(sorted(edges[f][g]))}')
# Tarjan's strongly connected components.
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        sccs.append(sorted(c))
sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        visit(v)
print()
worst = 0
for c in sorted(sccs, key=len, reverse=True):
    if len(c) < 2:
        continue
    worst = max(worst, len(c))
    print(f'cycle component ({len(c)} files): {" ".join(c)}')
print(f'largest component: {worst} files')
