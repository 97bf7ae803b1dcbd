"""Who can see a process's secrets, and what really removes them.

    matrix.access_matrix(pid, secret=..., file=...) -> Matrix   observers x channels
    matrix.demo() -> Matrix                                     `memlab exposure demo`
    removal.three_way(launched, name) -> ThreeWay               execve / proc / libc
    removal.walkthrough() -> Walkthrough                        `memlab exposure removal`
    search.search(pid, needle, progress=cb) -> SearchResult     `memlab search`
    audit.audit(progress=cb) -> AuditReport                     `memlab audit`

Headless: nothing here imports textual; pyelftools only on the removal path.
"""
