"""Initial stack view: what execve laid out at sp (fs/binfmt_elf.c create_elf_tables).

Teaches: at startstack sits argc, then argv[] and envp[] (pointers, NULL-terminated,
each pointing up into the strings at the top of [stack]), then the auxiliary vector
(AT_* pairs the kernel hands ld.so and libc), AT_RANDOM's 16 bytes, the platform
string and alignment padding.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from memlab.model import AuxvEntry, InitialStack, text
from memlab.render.safe import printable
from memlab.secrets import Masker
from memlab.tui.views import ViewSpec
from memlab.tui.widgets.base import SnapshotView
from memlab.tui.widgets.envblock import verdict_text
from memlab.tui.widgets.virtual import VirtualTable

AUXV_NOTES: dict[str, str] = {
    "AT_SYSINFO_EHDR": "where the vDSO is mapped",
    "AT_HWCAP": "CPU feature bits",
    "AT_PAGESZ": "page size",
    "AT_CLKTCK": "clock ticks per second",
    "AT_PHDR": "the program's ELF program headers in memory",
    "AT_PHENT": "size of one program header",
    "AT_PHNUM": "number of program headers",
    "AT_BASE": "where the dynamic loader (ld.so) is mapped",
    "AT_FLAGS": "flags",
    "AT_ENTRY": "the program's entry point",
    "AT_UID": "real uid",
    "AT_EUID": "effective uid",
    "AT_GID": "real gid",
    "AT_EGID": "effective gid",
    "AT_SECURE": "1 for setuid/setcap programs: libc then ignores LD_* variables",
    "AT_RANDOM": "16 random bytes (stack canary, pointer guard)",
    "AT_HWCAP2": "more CPU feature bits",
    "AT_EXECFN": "the path given to execve",
    "AT_PLATFORM": "the platform string",
    "AT_MINSIGSTKSZ": "minimal signal stack size",
}
DECIMAL = {"AT_PAGESZ", "AT_CLKTCK", "AT_PHENT", "AT_PHNUM", "AT_UID", "AT_EUID",
           "AT_GID", "AT_EGID", "AT_SECURE", "AT_FLAGS", "AT_MINSIGSTKSZ"}


def auxv_meaning(a: AuxvEntry, stack: InitialStack) -> Text:
    note = AUXV_NOTES.get(a.name, "")
    t = Text(note, style="dim")
    if a.name == "AT_RANDOM" and stack.at_random is not None:
        # the 16 bytes first: a narrow column cuts the note, never the bytes
        t = Text(stack.at_random.hex(), style="magenta")
        t.append(f"  {note}", style="dim")
    elif a.name == "AT_PLATFORM" and stack.platform is not None:
        # repr: quoted, every control character escaped
        t.append(f"  {stack.platform!r}", style="magenta")
    elif a.name == "AT_EXECFN" and stack.execfn is not None:
        t.append(f"  {stack.execfn!r}", style="magenta")
    return t


def stack_row_count(stack: InitialStack) -> int:
    """Rows of the table: argc, argv[] + NULL, envp[] + NULL, auxv + AT_NULL, padding."""
    return (1 + len(stack.argv) + 1 + len(stack.envp) + 1 + len(stack.auxv) + 1
            + (stack.padding is not None))


def shown_argv(stack: InitialStack, masker: Masker) -> list[str]:
    """argv as the table shows it, secrets masked: judged as a whole (a --password flag
    masks the argument after it), once per snapshot."""
    return masker.argv([text(s.string) for s in stack.argv])


def stack_row(stack: InitialStack, i: int, masker: Masker, argv: list[str]
              ) -> tuple[Text, Text, Text, Text]:
    """(slot address, field, value, meaning) of row i: the words execve wrote at sp, in
    order, argv (already masked: shown_argv) and envp strings with their secrets masked
    (memlab.secrets.Masker).  Built one row at a time (a process may pass 100,000
    variables)."""

    def row(slot: int | None, field: str, value: str, meaning: Text | str = "",
            style: str = "", meaning_style: str = "") -> tuple[Text, Text, Text, Text]:
        """meaning as a str may come from the process (argv/envp strings): escaped."""
        return (Text("" if slot is None else f"0x{slot:x}", style="dim"),
                Text(field, style=style or "bold"), Text(value),
                meaning if isinstance(meaning, Text) else
                Text(printable(meaning), style=meaning_style))

    argc, envc, auxc = len(stack.argv), len(stack.envp), len(stack.auxv)
    if i == 0:
        return row(stack.sp, "argc", str(stack.argc), "number of argv pointers")
    i -= 1
    if i < argc:
        s = stack.argv[i]
        return row(s.slot, f"argv[{i}]", f"0x{s.address:x}", argv[i])
    if i == argc:
        return row(stack.sp + 8 * (1 + argc), f"argv[{argc}]", "NULL", "end of argv",
                   style="dim")
    i -= argc + 1
    if i < envc:
        s = stack.envp[i]
        shown = masker.env_string(text(s.string))
        return row(s.slot, f"envp[{i}]", f"0x{s.address:x}", shown, meaning_style="cyan")
    if i == envc:
        return row(stack.sp + 8 * (2 + argc + envc), f"envp[{envc}]", "NULL",
                   "end of envp", style="dim")
    i -= envc + 1
    if i < auxc:
        a = stack.auxv[i]
        value = str(a.value) if a.name in DECIMAL else f"0x{a.value:x}"
        return row(stack.auxv_address + 16 * i, a.name, value, auxv_meaning(a, stack),
                   style="yellow")
    if i == auxc:
        return row(stack.auxv_address + 16 * auxc, "AT_NULL", "0", "end of auxv",
                   style="dim")
    return row(None, "padding", f"{stack.padding} bytes",
               "alignment between the lowest string (AT_RANDOM/platform) and the args")


class InitialStackView(SnapshotView):
    def compose(self) -> ComposeResult:
        yield Static(id="stack-summary")
        yield VirtualTable("slot", "field", "value", "points to / meaning",
                           id="stack-table")

    def render_snapshot(self) -> None:
        snap = self.snapshot
        summary = self.query_one("#stack-summary", Static)
        table = self.query_one("#stack-table", VirtualTable)
        stack = snap.stack
        if stack is None:
            table.clear()
            summary.update(Text("initial stack not decoded: " + printable(
                                "; ".join(snap.warnings) or "not readable"),
                                style="yellow"))
            return
        t = Text()
        t.append(f"sp = 0x{stack.sp:x} (startstack in /proc/PID/stat)  argc {stack.argc}"
                 f"  {len(stack.envp)} env pointers  {len(stack.auxv)} auxv pairs  ",
                 style="bold")
        t.append_text(verdict_text(stack.auxv_matches_proc, "auxv matches /proc/PID/auxv",
                                   "auxv differs from /proc/PID/auxv",
                                   "/proc/PID/auxv not readable"))
        if not stack.complete:
            t.append("  (best effort: the program changed its stack)", style="yellow")
        summary.update(t)
        masker = Masker.for_snapshot(snap, self.reveal)
        argv = shown_argv(stack, masker)
        table.set_rows(stack_row_count(stack), lambda i: stack_row(stack, i, masker, argv))


VIEW = ViewSpec(
    id="stack", title="Stack", key="s", factory=InitialStackView,
    teaches="the initial stack at sp: argc, argv[], envp[], auxv (AT_RANDOM, AT_EXECFN, "
            "AT_PLATFORM), each pointer with the string it points to")
