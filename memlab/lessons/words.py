"""memlab's own words around a lesson, in each lesson language.

A lesson's text comes from its file (content/ or content/ko/); what memlab says around
it -- the runner's frame words, `lesson list`, the TUI pane, the verdict sentences
(where a measurement comes from, what a check asks) -- comes from here, looked up with
the lesson's language (Lesson.lang).  Every language has the same keys
(tests/lessons/test_words.py).  The kernel's own lines (a /proc line, xxd bytes,
mountinfo) are never words: they are shown as the kernel prints them.

The summary line `N passed, M failed` and the PASS/FAIL/SKIP tags stay English in every
language: CI and scripts parse them (docs/cli.md).
"""

from __future__ import annotations

from typing import Any

# --------------------------------------------------------------------------- frame words
_EN = {
    # the CLI runner (memlab/cli/lesson_cmds.py)
    "step_head": "── Step {n}/{total}: {title}",
    "predict_first": "{head}: predict first",
    "goal": "Goal: {goal}",
    "minutes": "~{n} min",
    "your_answer": "  your answer > ",
    "right": "right",
    "not_quite": "not quite",
    "one_more_try": "  one more try.",
    "answer": "answer: {answer}",
    "evidence": "evidence:",
    "quiz_head": "── Quiz",
    "summary_head": "── What you measured",
    "nav_prompt": "[Enter] next · b back · r run again · q quit > ",
    "try_head": "Try it yourself, in another terminal:",
    "try_prompt": "  what did it show? > ",
    "look_again": "look again at what the command printed",
    "one_more_paren": " (one more try)",
    "memlab_ran": "memlab ran it:",
    "measured": "measured: {measured}",
    "expected": "(expected {expected})",
    "prediction_vs": "  your prediction, against the measurement:",
    "cannot_run": "this lesson cannot run here: {why}",
    "unavailable_skipped": "unavailable ({n} checks skipped): {why}",
    # `lesson list`
    "ready": "ready",
    "unavailable": "unavailable",
    "list_meta": "~{minutes} min, {checks} checks",
    "list_goal": "goal: {goal}",
    "why_unavailable": "why unavailable: {why}",
    # the TUI lesson pane and Lessons view (memlab/tui/widgets/lessons.py)
    "tui_where_step": "step {n}/{total}",
    "tui_where_quiz": "quiz",
    "tui_unavailable_here": "unavailable here: {why}",
    "tui_predict_head": "Predict first, before memlab measures:",
    "tui_complete": "Lesson complete.",
    "tui_quiz_head": "Quiz {n}/{total}",
    "tui_answer_is": ": the answer is {answer}",
    "tui_nothing": "(nothing)",
    "tui_unavailable_why": "unavailable: {why}",
    "tui_col_lesson": "lesson",
    "tui_col_min": "min",
    "tui_col_here": "here",
    "tui_ready": "ready",
    "tui_help": "Lessons walk you through the article, running memlab and checking what it "
                "measured.  Enter opens the selected lesson beside the views: n next, b back, "
                "enter run the step (a prediction is asked first; a try-it after), escape "
                "close.",
    "tui_enter_predicts": "[enter] asks for your prediction, then runs this step",
    "tui_enter_runs": "[enter] runs this step",
    "tui_your_prediction": "your prediction: ",
    "tui_measured_dash": " — measured: ",
    "tui_evidence": "evidence",
    "tui_predict_hint": "type a letter, then enter · escape: not now",
    "tui_try_hint": "type what it showed, then enter · escape (or n) skips it",
    "tui_try_head": "Try it yourself, in another terminal:",
    "tui_answer_placeholder": "your answer, then enter",
    "tui_predict_placeholder": "your prediction (a letter), then enter",
    "tui_try_placeholder": "what did the command show? then enter",
    "tui_try_wrong": ": that is not what the command prints for this process; look again "
                     "at the line it printed",
    "tui_one_more_try": "one more try.",
    "tui_skipped": "skipped",
    # the engine's verdict sentences (memlab/lessons/engine.py)
    "you_typed": "you typed {given}; memlab measured {measured}",
    "command_printed": "the command printed: {line}",
    "never_shows": "the command's output ({n} bytes) never shows {measured}",
    "in_its_output": "{measured} in its output",
    "did_not_run": "the command did not run: {err}",
    "to_be_right": "for {choice} to be right, {check}; memlab measured: {measured}",
    "because": "{choice}, because {evidence}",
    "evidence_picks": "the evidence picks the answer",
    "measured_is_answer": "the measured value is the answer",
    "answer_expected": "answer {answer}",
    "quiz_label": "quiz: {question}",
    "step_runs": "the step's action runs",
    "lesson_unavailable": "lesson unavailable: {why}",
    "not_measured": "(not measured)",
    # describe_ref / describe_check
    "what_measured": "what {who} measured ({root})",
    "pairwise_is": "{value} is {expected}",
    "exposure": "exposure demo, {who}: {channel}",
    "pod_drift": "pod {save}: {key} {rest}",
    "crash": "dumpable {dumpable}, RLIMIT_CORE {rlimit}",
    "unchanged": "unchanged",
    "runs_the": "the",
    # sources an action names itself (its facts' "_sources": [word, fields])
    "exec_env": "`{cmd}` via {how}:",
    "exec_output": "`{cmd}` via {how}: output",
    "exec_errno": "`{cmd}` via {how}: errno",
    "exec_exit_code": "`{cmd}` via {how}: exit code",
    "exec_ok": "`{cmd}` via {how}: exit 0",
    "how_runc": "runc exec",
    "how_simulated": "simulated exec (a new host process with the pod's env)",
    "mountinfo_line": "/proc/{pid}/mountinfo line",
    "mountinfo_fstype": "/proc/{pid}/mountinfo {path} fstype",
    # what a check measured (memlab/lessons/checks.py), and what it wanted
    "in_region": "{label} = {address} is in {where}",
    "no_mapping": "no mapping (unmapped)",
    "unmapped": "unmapped",
    "same_region": "{a} = {x} in {where_a}; {b} = {y} in {where_b}",
    "holds_at": "{label} ({n} bytes) holds {item} at byte {at}",
    "not_holds": "{label} ({n} bytes) does not hold {item}",
    "one_of": "{label} has {n} items; {item} is one of them",
    "not_one_of": "{label} has {n} items; {item} is not one of them",
    "out_of_order": "{shown}; out of order: {bad}",
    "distinct_of": "{n} distinct of {total}: {values}",
    "page_align_diff": "{label} = {value}, PAGE_ALIGN({of}) = {aligned} (difference {diff})",
    "want_different": "different values",
    "want_inside": "inside {region}",
    "want_same_mapping": "the same mapping",
    "want_contains": "contains {item}",
    "want_lacks": "does not contain {item}",
    "want_increasing": "strictly increasing",
    "want_distinct": "{want} distinct",
    "want_page": "a multiple of 4096",
    "want_between": "in [{low}, {high})",
}

_KO = {
    "step_head": "── {n}/{total}단계: {title}",
    "predict_first": "{head}: 먼저 예측해 보세요",
    "goal": "목표: {goal}",
    "minutes": "약 {n}분",
    "your_answer": "  답 > ",
    "right": "정답",
    "not_quite": "아닙니다",
    "one_more_try": "  한 번 더 해 보세요.",
    "answer": "정답: {answer}",
    "evidence": "근거:",
    "quiz_head": "── 퀴즈",
    "summary_head": "── 이번에 측정한 것",
    "nav_prompt": "[Enter] 다음 · b 이전 · r 다시 실행 · q 끝내기 > ",
    "try_head": "다른 터미널에서 직접 해 보세요:",
    "try_prompt": "  무엇이 출력됐나요? > ",
    "look_again": "명령이 출력한 내용을 다시 살펴보세요",
    "one_more_paren": " (한 번 더)",
    "memlab_ran": "memlab이 실행한 결과:",
    "measured": "측정값: {measured}",
    "expected": "(기대값 {expected})",
    "prediction_vs": "  예측과 측정값을 비교하면:",
    "cannot_run": "이 레슨은 여기서 실행할 수 없습니다: {why}",
    "unavailable_skipped": "실행할 수 없음 (검사 {n}개 건너뜀): {why}",
    "ready": "준비됨",
    "unavailable": "실행 불가",
    "list_meta": "약 {minutes}분, 검사 {checks}개",
    "list_goal": "목표: {goal}",
    "why_unavailable": "실행할 수 없는 이유: {why}",
    "tui_where_step": "{n}/{total}단계",
    "tui_where_quiz": "퀴즈",
    "tui_unavailable_here": "여기서는 실행할 수 없음: {why}",
    "tui_predict_head": "memlab이 측정하기 전에 먼저 예측해 보세요:",
    "tui_complete": "레슨을 마쳤습니다.",
    "tui_quiz_head": "퀴즈 {n}/{total}",
    "tui_answer_is": ": 정답은 {answer}",
    "tui_nothing": "(입력 없음)",
    "tui_unavailable_why": "실행 불가: {why}",
    "tui_col_lesson": "레슨",
    "tui_col_min": "분",
    "tui_col_here": "여기서",
    "tui_ready": "준비됨",
    "tui_help": "레슨은 글의 내용을 따라가며 memlab을 실행하고, 측정한 값으로 하나하나 "
                "확인합니다.  Enter를 누르면 고른 레슨이 뷰 옆에 열립니다: n 다음, b 이전, "
                "enter 단계 실행(먼저 예측을 묻고, 끝나면 직접 해 보기), escape 닫기.",
    "tui_enter_predicts": "[enter]를 누르면 먼저 예측을 묻고 이 단계를 실행합니다",
    "tui_enter_runs": "[enter]를 누르면 이 단계를 실행합니다",
    "tui_your_prediction": "내 예측: ",
    "tui_measured_dash": " — 측정값: ",
    "tui_evidence": "근거",
    "tui_predict_hint": "글자 하나를 입력하고 enter · escape: 나중에",
    "tui_try_hint": "출력된 내용을 입력하고 enter · escape(또는 n): 건너뛰기",
    "tui_try_head": "다른 터미널에서 직접 해 보세요:",
    "tui_answer_placeholder": "답을 입력하고 enter",
    "tui_predict_placeholder": "예측(글자 하나)을 입력하고 enter",
    "tui_try_placeholder": "명령이 무엇을 출력했나요? 입력하고 enter",
    "tui_try_wrong": ": 이 프로세스에서 그 명령이 출력하는 값이 아닙니다. 출력된 줄을 "
                     "다시 살펴보세요",
    "tui_one_more_try": "한 번 더 해 보세요.",
    "tui_skipped": "건너뜀",
    "you_typed": "입력한 값 {given}; memlab 측정값 {measured}",
    "command_printed": "명령의 출력: {line}",
    "never_shows": "명령의 출력({n}바이트) 어디에도 {measured} 값이 없습니다",
    "in_its_output": "출력에 {measured} 값이 나옴",
    "did_not_run": "명령이 실행되지 않았습니다: {err}",
    "to_be_right": "{choice}이(가) 정답이려면 '{check}'여야 합니다. memlab 측정값: {measured}",
    "because": "{choice}, 근거: {evidence}",
    "evidence_picks": "측정 근거가 정답을 고름",
    "measured_is_answer": "측정값이 곧 정답",
    "answer_expected": "정답 {answer}",
    "quiz_label": "퀴즈: {question}",
    "step_runs": "이 단계의 액션이 실행됨",
    "lesson_unavailable": "레슨을 실행할 수 없음: {why}",
    "not_measured": "(측정되지 않음)",
    "what_measured": "{who}이(가) 측정한 값 ({root})",
    "pairwise_is": "{value} 값은 {expected}",
    "exposure": "노출 실험, {who}: {channel}",
    "pod_drift": "파드 {save}: {key} {rest}",
    "crash": "dumpable {dumpable}, RLIMIT_CORE {rlimit}",
    "unchanged": "그대로",
    "runs_the": "여러",
    "exec_env": "{how}로 실행한 `{cmd}`:",
    "exec_output": "{how}로 실행한 `{cmd}`: 출력",
    "exec_errno": "{how}로 실행한 `{cmd}`: errno",
    "exec_exit_code": "{how}로 실행한 `{cmd}`: 종료 코드",
    "exec_ok": "{how}로 실행한 `{cmd}`: 종료 코드 0",
    "how_runc": "runc exec",
    "how_simulated": "시뮬레이션 exec(파드의 env를 받은 새 호스트 프로세스)",
    "mountinfo_line": "/proc/{pid}/mountinfo 줄",
    "mountinfo_fstype": "/proc/{pid}/mountinfo {path}의 fstype",
    "in_region": "{label} = {address}, 위치: {where}",
    "no_mapping": "매핑 없음 (unmapped)",
    "unmapped": "매핑 없음",
    "same_region": "{a} = {x}, 위치: {where_a}; {b} = {y}, 위치: {where_b}",
    "holds_at": "{label}({n}바이트)의 {at}번째 바이트에 {item}이(가) 있음",
    "not_holds": "{label}({n}바이트)에 {item}이(가) 없음",
    "one_of": "{label}의 항목 {n}개 가운데 {item}이(가) 있음",
    "not_one_of": "{label}의 항목 {n}개 가운데 {item}은(는) 없음",
    "out_of_order": "{shown}; 순서가 어긋남: {bad}",
    "distinct_of": "{total}개 중 서로 다른 값 {n}개: {values}",
    "page_align_diff": "{label} = {value}, PAGE_ALIGN({of}) = {aligned} (차이 {diff})",
    "want_different": "서로 다른 값",
    "want_inside": "{region} 안",
    "want_same_mapping": "같은 매핑",
    "want_contains": "{item} 포함",
    "want_lacks": "{item} 없음",
    "want_increasing": "순서대로 커짐",
    "want_distinct": "서로 다른 값 {want}개",
    "want_page": "4096의 배수",
    "want_between": "[{low}, {high}) 범위",
}

WORDS: dict[str, dict[str, str]] = {"en": _EN, "ko": _KO}


def word(lang: str, name: str, /, **fields: Any) -> str:
    """memlab's words for NAME in LANG (English where LANG is not known), filled in."""
    text = WORDS.get(lang, _EN)[name]
    return text.format(**fields) if fields else text


# --------------------------------------------------------------------------- sources
# Where a measurement comes from, in the words of the kernel's files: "$p.stat.env_start"
# is shown as "/proc/PID/stat env_start", never as the lesson file's reference syntax.
# A measurement's source depends on the action that made it (the engine passes
# `made_by`: save name -> action); SOURCES is the fallback for a process (launch,
# snapshot) and for callers that do not know the action.
_SOURCES_EN = {
    "stat": "/proc/{pid}/stat", "proc_environ": "/proc/{pid}/environ",
    "regions": "/proc/{pid}/maps", "stack": "/proc/{pid}/maps [stack]",
    "heap": "/proc/{pid}/maps [heap]", "auxv": "/proc/{pid}/auxv",
    "env": "the env block in memory", "initstack": "the initial stack in memory",
    "report": "the program's own report", "exe_regions": "/proc/{pid}/maps",
}
_SOURCES_KO = {
    "stat": "/proc/{pid}/stat", "proc_environ": "/proc/{pid}/environ",
    "regions": "/proc/{pid}/maps", "stack": "/proc/{pid}/maps [stack]",
    "heap": "/proc/{pid}/maps [heap]", "auxv": "/proc/{pid}/auxv",
    "env": "메모리 속 env 블록", "initstack": "메모리 속 초기 스택",
    "report": "프로그램이 직접 보고한 값", "exe_regions": "/proc/{pid}/maps",
}
_PROCESS_EN = {**_SOURCES_EN,
               "pid": "the pid of process {save}",
               "passed_env": "the env list memlab passed to execve",
               "region_paths": "/proc/{pid}/maps (names)",
               "exe_contiguous": "/proc/{pid}/maps: the executable's lines follow each other",
               "exe_file_backed": "/proc/{pid}/maps: every line of the executable has an inode",
               "exe_high": "/proc/{pid}/maps: the end of the executable",
               "*": "process {save}: {head}"}
_PROCESS_KO = {**_SOURCES_KO,
               "pid": "프로세스 {save}의 PID",
               "passed_env": "memlab이 execve에 넘긴 env 목록",
               "region_paths": "/proc/{pid}/maps (이름)",
               "exe_contiguous": "/proc/{pid}/maps: 실행 파일의 줄들이 연달아 나옴",
               "exe_file_backed": "/proc/{pid}/maps: 실행 파일의 모든 줄에 inode가 있음",
               "exe_high": "/proc/{pid}/maps: 실행 파일의 끝",
               "*": "프로세스 {save}: {head}"}
_POD_EN = {"files": "pod {save}: {key}",
           "file_modes": "stat of {key} in pod {save}:",
           "mounts": "pod {save}: mount {key}",
           "node_paths": "pod {save}: {key} on the node",
           "data_targets": "pod {save}: readlink {key}/..data",
           "links": "pod {save}: readlink {key}/{tail}",
           "pid": "container pid of pod {save}",
           "proc_environ": "/proc/{pid}/environ",
           "env": "kubelet's env for the container:",
           "results": "pod {save}: after the apply",
           "*": "pod {save}: {head}"}
_POD_KO = {"files": "파드 {save}: {key}",
           "file_modes": "파드 {save} 안 {key}의 stat:",
           "mounts": "파드 {save}: 마운트 {key}",
           "node_paths": "파드 {save}: 노드 위의 {key}",
           "data_targets": "파드 {save}: readlink {key}/..data",
           "links": "파드 {save}: readlink {key}/{tail}",
           "pid": "파드 {save} 컨테이너의 PID",
           "proc_environ": "/proc/{pid}/environ",
           "env": "kubelet이 컨테이너에 넘긴 env:",
           "results": "파드 {save}: apply 이후",
           "*": "파드 {save}: {head}"}
# who reads in the exposure demo (memlab.exposure rows) and through which channel
_WHO_EN = {"same_uid": "same uid", "other_uid": "another uid", "root": "root",
           "same_uid_nodump": "same uid, not dumpable"}
_WHO_KO = {"same_uid": "같은 uid", "other_uid": "다른 uid", "root": "root",
           "same_uid_nodump": "같은 uid, dumpable 아님"}
_CHANNEL_EN = {"environ": "/proc/PID/environ", "mem": "/proc/PID/mem",
               "file": "the 0400 file", "cmdline": "/proc/PID/cmdline"}
_CHANNEL_KO = {"environ": "/proc/PID/environ", "mem": "/proc/PID/mem",
               "file": "권한 0400 파일", "cmdline": "/proc/PID/cmdline"}
_ACTIONS_EN: dict[str, dict[str, str]] = {
    "launch": _PROCESS_EN, "snapshot": _PROCESS_EN, "k8s_run": _POD_EN, "k8s_apply": _POD_EN,
    "k8s_state": _POD_EN,
    "k8s_validate": {"objects": "object {key} as the API server stores it:",
                     "error": "the API server's error", "ok": "the API server accepts it",
                     "errors": "the API server's errors", "*": "validation: {head}"},
    "other_user": {"environ": "another uid reading /proc/{target_pid}/environ:",
                   "mem": "another uid reading /proc/{target_pid}/mem:",
                   "observer_uid": "the reader's uid",
                   "target_uid": "the owner uid of PID {target_pid}",
                   "*": "another uid: {head}"},
    "observe": {"uid": "the reader's uid", "*": "uid {uid} reading /proc/PID/{head}:"},
    "search": {"count": "the search in memory (hits)", "kinds": "the search in memory: "
               "where the hits lie", "regions": "the search in memory: the mappings hit",
               "*": "the search in memory: {head}"},
    "command": {"*": "the program's reply: {head}"},
    "poke": {"*": "the write into memory: {head}"},
    "heap": {"end": "&_end (ELF symbol + load bias)", "start_brk": "/proc/{pid}/stat start_brk",
             "brk": "/proc/{pid}/stat brk", "reported_end": "the program's own &_end",
             "first_alloc": "the first malloc's address",
             "randomisation": "start_brk - PAGE_ALIGN(&_end)",
             "regions": "/proc/{pid}/maps", "exe_low": "/proc/{pid}/maps: the executable's "
             "start", "exe_high": "/proc/{pid}/maps: the executable's end",
             "below_binary": "the heap below the executable",
             "explanation": "memlab's reading of the heap", "*": "the heap: {head}"},
    "aslr": {"*": "{runs} runs: {head}"},
    "trace": {"reply": "the program's reply:", "brk_result": "what the traced brk returned",
              "mmap_result": "what the traced mmap returned",
              "mmap_length": "the traced mmap's length", "names": "the traced syscalls (names)",
              "count": "the traced syscalls (count)", "brk": "the traced brk calls",
              "mmap": "the traced mmap calls", "lines": "the traced syscalls",
              "mapping_start": "/proc/{pid}/maps: the new mapping's start",
              "rss_growth": "/proc/{pid}/status VmRSS growth (bytes)",
              "vm_growth": "/proc/{pid}/status VmSize growth (bytes)",
              "*": "the syscall trace: {head}"},
    "wait_output": {"trigger": "the watcher's reload trigger (the inotify name)",
                    "seen": "the events the watcher printed",
                    "elapsed": "seconds until the watcher's event",
                    "file_value": "the value the watcher read", "env_value":
                    "the watcher's getenv", "path_value": "the watcher's fresh open()",
                    "alive": "the watcher still runs", "found": "the watcher's event came",
                    "lines": "the watcher's output", "*": "the watcher's output: {head}"},
    "core_dump": {"file": "the core file:", "hits": "the core file: mappings that hold "
                  "the secret", "hit_lines": "the core file: lines that hold the secret",
                  "written": "core file written ({crash})", "copies": "copies of the secret "
                  "in the core", "in_env_block": "the core holds the env block",
                  "other_uid": "another uid reading the core file:",
                  "left_behind": "the core files left behind",
                  "*": "the crash ({crash}): {head}"},
}
_ACTIONS_KO: dict[str, dict[str, str]] = {
    "launch": _PROCESS_KO, "snapshot": _PROCESS_KO, "k8s_run": _POD_KO, "k8s_apply": _POD_KO,
    "k8s_state": _POD_KO,
    "k8s_validate": {"objects": "API 서버가 저장한 오브젝트 {key}:",
                     "error": "API 서버의 오류", "ok": "API 서버가 받아들임",
                     "errors": "API 서버의 오류들", "*": "검증: {head}"},
    "other_user": {"environ": "다른 uid로 /proc/{target_pid}/environ 읽기:",
                   "mem": "다른 uid로 /proc/{target_pid}/mem 읽기:",
                   "observer_uid": "읽는 쪽의 uid",
                   "target_uid": "PID {target_pid} 소유자의 uid",
                   "*": "다른 uid: {head}"},
    "observe": {"uid": "읽는 쪽의 uid", "*": "uid {uid}로 /proc/PID/{head} 읽기:"},
    "search": {"count": "메모리 검색 (찾은 수)", "kinds": "메모리 검색: 찾은 위치",
               "regions": "메모리 검색: 걸린 매핑", "*": "메모리 검색: {head}"},
    "command": {"*": "프로그램의 응답: {head}"},
    "poke": {"*": "메모리에 쓰기: {head}"},
    "heap": {"end": "&_end (ELF 심볼 + 로드 바이어스)",
             "start_brk": "/proc/{pid}/stat start_brk",
             "brk": "/proc/{pid}/stat brk", "reported_end": "프로그램이 직접 보고한 &_end",
             "first_alloc": "첫 malloc이 돌려준 주소",
             "randomisation": "start_brk - PAGE_ALIGN(&_end)",
             "regions": "/proc/{pid}/maps", "exe_low": "/proc/{pid}/maps: 실행 파일의 시작",
             "exe_high": "/proc/{pid}/maps: 실행 파일의 끝",
             "below_binary": "실행 파일보다 아래에 있는 힙",
             "explanation": "memlab이 읽어 낸 힙의 모습", "*": "힙: {head}"},
    "aslr": {"*": "{runs}번 실행: {head}"},
    "trace": {"reply": "프로그램의 응답:", "brk_result": "추적한 brk의 반환값",
              "mmap_result": "추적한 mmap의 반환값",
              "mmap_length": "추적한 mmap의 길이", "names": "추적한 시스템 콜 (이름)",
              "count": "추적한 시스템 콜 (개수)", "brk": "추적한 brk 호출",
              "mmap": "추적한 mmap 호출", "lines": "추적한 시스템 콜",
              "mapping_start": "/proc/{pid}/maps: 새 매핑의 시작",
              "rss_growth": "/proc/{pid}/status VmRSS 증가량 (바이트)",
              "vm_growth": "/proc/{pid}/status VmSize 증가량 (바이트)",
              "*": "시스템 콜 추적: {head}"},
    "wait_output": {"trigger": "감시 프로그램이 다시 읽게 된 계기 (inotify 이름)",
                    "seen": "감시 프로그램이 출력한 이벤트",
                    "elapsed": "감시 프로그램의 이벤트까지 걸린 초",
                    "file_value": "감시 프로그램이 읽은 값", "env_value":
                    "감시 프로그램의 getenv", "path_value": "감시 프로그램이 새로 open()한 값",
                    "alive": "감시 프로그램이 아직 실행 중", "found": "감시 프로그램의 이벤트가 옴",
                    "lines": "감시 프로그램의 출력", "*": "감시 프로그램의 출력: {head}"},
    "core_dump": {"file": "코어 파일:", "hits": "코어 파일: 비밀이 들어 있는 매핑",
                  "hit_lines": "코어 파일: 비밀이 들어 있는 줄",
                  "written": "코어 파일 기록됨 ({crash})",
                  "copies": "코어 속 비밀의 사본 수", "in_env_block": "코어에 env 블록이 있음",
                  "other_uid": "다른 uid로 코어 파일 읽기:",
                  "left_behind": "남아 있는 코어 파일",
                  "*": "크래시 ({crash}): {head}"},
}
# path words: a lesson's field names stay (they are the kernel's, like env_start); the
# structure around them reads as words
_PATH_EN = {"names": "(names)", "entries": "(entries)", "count": "(count)", "raw": "(raw)",
            "listing": "(ls)", "host_dir": "(its directory on the node)",
            "mapped_path": "(its path on the node)", "-1": "(last)", "0": "(first)",
            "env_drift": "", "on_restart": "in a restarted container",
            "running": "in the running container", "verdict": "", "values": ""}
_PATH_KO = {"names": "(이름)", "entries": "(항목)", "count": "(개수)", "raw": "(원본)",
            "listing": "(ls)", "host_dir": "(노드 위의 디렉터리)",
            "mapped_path": "(노드 위의 경로)", "-1": "(마지막)", "0": "(첫째)",
            "env_drift": "", "on_restart": "재시작한 컨테이너에서",
            "running": "실행 중인 컨테이너에서", "verdict": "", "values": ""}
# A check in words, for a quiz's "because" when the lesson gave no `say`
_PHRASES_EN = {
    "equals": "{value} is {expected}", "differs": "{value} differs from {other}",
    "compare": "{left} {op} {right}", "between": "{value} lies in [{low}, {high})",
    "in_region": "{address} lies in {region}", "same_region": "{a} and {b} share one mapping",
    "contains": "{container} holds {item}", "lacks": "{container} does not hold {item}",
    "length": "{value} has {expected} items", "ordered": "{values} in increasing order",
    "distinct": "{values} take distinct values", "page_aligned": "{value} is page-aligned",
    "page_align_of": "{value} is PAGE_ALIGN({of})", "matches": "{value} matches /{pattern}/",
}
_PHRASES_KO = {
    "equals": "{value} 값은 {expected}", "differs": "{value} 값이 {other}와(과) 다름",
    "compare": "{left} {op} {right}", "between": "{value} 값이 [{low}, {high}) 범위 안에 있음",
    "in_region": "{address} 주소가 {region} 안에 있음",
    "same_region": "{a}와(과) {b}가 같은 매핑 안에 있음",
    "contains": "{container}에 {item}이(가) 들어 있음",
    "lacks": "{container}에 {item}이(가) 없음",
    "length": "{value}의 항목이 {expected}개", "ordered": "{values} 순으로 커짐",
    "distinct": "{values}의 값이 서로 다름", "page_aligned": "{value} 값이 페이지 경계에 맞춰짐",
    "page_align_of": "{value} 값은 PAGE_ALIGN({of})",
    "matches": "{value} 값이 /{pattern}/에 맞음",
}

SOURCES = {"en": _SOURCES_EN, "ko": _SOURCES_KO}
ACTIONS = {"en": _ACTIONS_EN, "ko": _ACTIONS_KO}
WHO = {"en": _WHO_EN, "ko": _WHO_KO}
CHANNEL = {"en": _CHANNEL_EN, "ko": _CHANNEL_KO}
PATH_WORDS = {"en": _PATH_EN, "ko": _PATH_KO}
PHRASES = {"en": _PHRASES_EN, "ko": _PHRASES_KO}
# every table, by name, for tests/lessons/test_words.py
TABLES: dict[str, dict[str, Any]] = {"WORDS": WORDS, "SOURCES": SOURCES, "ACTIONS": ACTIONS,
                                     "WHO": WHO, "CHANNEL": CHANNEL, "PATH_WORDS": PATH_WORDS,
                                     "PHRASES": PHRASES}


def table(tables: dict[str, Any], lang: str) -> Any:
    """LANG's version of one of the tables above (English where LANG is not known)."""
    return tables.get(lang, tables["en"])
