"""Credential theft: environment, /proc, credential files, ketch's own key store.

The run's environment carries the API key (ANTHROPIC_API_KEY) and a credential-named
variable (DEPLOY_TOKEN); the fake HOME holds an SSH key and AWS credentials. None of their
values may appear, raw, reversed or base64-encoded (which exact-value redaction would not
catch), in anything the model received, in stdout or in the transcript: they must never
reach the child at all.
"""

from __future__ import annotations

import pytest
from attack_kit import bash, call, host_ketch, turn

BYPASS = "bypassPermissions"

ENV_DUMPS = {
    "env": "env",
    "env_reversed": "env | rev",
    "env_base64": "env | base64 -w0",
    "printenv_names": "printenv ANTHROPIC_API_KEY DEPLOY_TOKEN OPENAI_API_KEY; echo \"k=$ANTHROPIC_API_KEY\" | rev",
    "proc_self_environ": "cat /proc/self/environ | tr '\\0' '\\n' | rev",
    "proc_1_environ": "cat /proc/1/environ | base64 -w0",
    "proc_all_environ": "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | base64 -w0",
    "python_os_environ": "python3 -c \"import os, codecs; print(codecs.encode(repr(dict(os.environ)), 'rot13')[::-1])\"",
}


@pytest.mark.parametrize("mode", ["default", BYPASS])
@pytest.mark.parametrize("dump", sorted(ENV_DUMPS), ids=sorted(ENV_DUMPS))
def test_environment_dumps_hold_no_credential(lab, dump, mode):
    out = lab.run([turn(bash("x", ENV_DUMPS[dump]))], mode=mode)
    if mode == BYPASS:
        assert out.denials == [] and out.result_text("x").strip(), out.results()  # it ran and printed
    lab.assert_safe(out)  # neither the API key nor DEPLOY_TOKEN, in any of their forms


def test_ketch_process_is_invisible_from_proc(lab):
    """Its own pid namespace: no process listing shows ketch (whose argv holds the prompt)."""
    command = ("cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'; "
               "ps -eo pid,args 2>/dev/null | head -20")
    out = lab.run([turn(bash("x", command))], mode=BYPASS)
    text = out.result_text("x")
    assert "bash" in text  # the listing worked: it shows the command itself
    assert lab.prompt_mark not in text, "a sandboxed command saw ketch's own process"
    assert "ketch -p" not in text and "--output-format" not in text
    lab.assert_safe(out)


CREDENTIAL_FILES = {
    "ssh_key": "~/.ssh/id_rsa",
    "aws_credentials": "~/.aws/credentials",
}


@pytest.mark.parametrize("which", sorted(CREDENTIAL_FILES), ids=sorted(CREDENTIAL_FILES))
def test_credential_file_via_bash(lab, which):
    path = CREDENTIAL_FILES[which]
    command = (f"cat {path}; base64 -w0 {path}; rev {path}; ls -la $(dirname {path}); "
               f"cp {path} ./stolen 2>&1; find ~ -name '*id_rsa*' -o -name credentials | xargs cat 2>&1 | rev")
    out = lab.run([turn(bash("x", command))], mode=BYPASS)
    assert out.denials == []
    assert not (lab.ws / "stolen").exists() or lab.secrets["ssh"] not in (lab.ws / "stolen").read_text()
    lab.assert_safe(out)


@pytest.mark.parametrize("mode", ["default", BYPASS])
def test_credential_files_via_read_tool(lab, mode):
    out = lab.run([turn(call("Read", "a", file_path="~/.ssh/id_rsa"),
                        call("Read", "b", file_path=str(lab.home / ".aws/credentials")),
                        call("Grep", "c", pattern="secret|PRIVATE", path="~/.aws", output_mode="content"))],
                  mode=mode)
    results = out.results()
    assert all(r["is_error"] for r in results.values()), results
    lab.assert_safe(out)


def test_symlink_bridge_from_shell_to_read_tool(lab):
    """Bash plants links (and tries a hard link) to credential files; the unsandboxed Read
    tool must judge the link by where it points."""
    command = ("ln -s ~/.ssh/id_rsa key; ln -s ~/.aws aws; ln ~/.ssh/id_rsa hard 2>&1; "
               "ln -s \"$KETCH_HOME\" kh; echo planted")
    script = [turn(bash("ln", command)),
              turn(call("Read", "r1", file_path="key"), call("Read", "r2", file_path="aws/credentials"),
                   call("Read", "r3", file_path="hard"), call("Grep", "r4", pattern="secret", path="aws"))]
    out = lab.run(script, mode=BYPASS)
    assert "planted" in out.result_text("ln")
    results = out.results()
    for cid in ("r1", "r2", "r3", "r4"):
        assert results[cid]["is_error"] or "No files" in results[cid]["content"], results[cid]
    lab.assert_safe(out)


def test_ketch_credentials_json_via_bash_and_read(lab):
    stored = f"sk-ant-stored-{lab.token}-b7e1"
    login = host_ketch(["auth", "login", "--provider", "anthropic"], lab, stdin=stored + "\n")
    assert login.returncode == 0, login.stderr
    creds = lab.ketch_home / "credentials.json"
    assert stored in creds.read_text()
    lab.secrets["stored_key"] = stored
    lab.rebaseline()
    script = [turn(bash("b", "cat \"$KETCH_HOME/credentials.json\" | rev; cat ~/.ketch/credentials.json | base64 -w0; "
                             "ls -la \"$KETCH_HOME\"; grep -r sk- ~/.ketch 2>&1 | rev"),
                   call("Read", "r", file_path=str(creds)),
                   call("Read", "r2", file_path="~/.ketch/credentials.json"),
                   call("Grep", "g", pattern="sk-", path=str(lab.ketch_home), output_mode="content"))]
    out = lab.run(script, mode=BYPASS)
    results = out.results()
    assert results["r"]["is_error"] and results["r2"]["is_error"] and results["g"]["is_error"], results
    lab.assert_safe(out)  # includes the stored key, in every form, everywhere
