"""Start-up settings: a bad setting exits with status 2 and one stderr line
naming the setting; SIGTERM exits 0."""
from __future__ import annotations

import signal

import pytest

from liftoff_server import LISTEN_RE, run_liftoff


def serve_args(tmp_path, *extra):
    return ["serve", "--port", "0", "--data-dir", str(tmp_path / "data"), *extra]


def assert_usage_error(proc, *names):
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, f"exit {proc.returncode}, stderr {proc.stderr!r}"
    assert len(lines) == 1, f"want one stderr line, got {lines!r}"
    assert any(n in lines[0] for n in names), f"{lines[0]!r} names none of {names}"
    assert not any(LISTEN_RE.match(line) for line in lines)
    return lines[0]


@pytest.mark.parametrize("extra,names", [
    (["--port", "70000"], ["--port"]),
    (["--port", "-1"], ["--port"]),
    (["--port", "http"], ["--port"]),
    (["--port"], ["--port"]),
    (["--max-body-bytes", "0"], ["--max-body-bytes"]),
    (["--max-body-bytes", "lots"], ["--max-body-bytes"]),
    (["--max-upload-bytes", "-5"], ["--max-upload-bytes"]),
    (["--log-level", "loud"], ["--log-level"]),
    (["--public-url", "ftp://example.com"], ["--public-url"]),
    (["--http-threads", "0"], ["--http-threads"]),
    (["--no-such-option", "1"], ["--no-such-option"]),
    (["--api-keys", "/nonexistent/keys.txt"], ["--api-keys", "api_keys"]),
], ids=lambda x: " ".join(x) if isinstance(x, list) and x and x[0].startswith("--") else None)
def test_bad_setting_exits_2_naming_it(tmp_path, extra, names):
    assert_usage_error(run_liftoff(serve_args(tmp_path, *extra)), *names)


def test_bad_setting_from_environment(tmp_path):
    proc = run_liftoff(["serve", "--data-dir", str(tmp_path / "d")],
                       env={"LIFTOFF_PORT": "99999"})
    assert_usage_error(proc, "LIFTOFF_PORT")


def test_api_keys_file_without_keys(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# nobody\n\n   \n")
    assert_usage_error(run_liftoff(serve_args(tmp_path, "--api-keys", str(keys))),
                       "--api-keys", "api_keys")


def test_api_keys_file_with_a_colon(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("user:password\n")
    assert_usage_error(run_liftoff(serve_args(tmp_path, "--api-keys", str(keys))),
                       "--api-keys", "api_keys")


@pytest.mark.parametrize("flag,key,target,reason", [
    ("--api-keys", "api_keys", "dir", "not a regular file"),
    ("--config", "config", "dir", "not a regular file"),
    ("--config", "config", "missing", "No such file or directory"),
], ids=["api-keys-directory", "config-directory", "config-missing"])
def test_unreadable_file_setting_message_is_intact(tmp_path, flag, key, target, reason):
    """The one line must make sense: the setting once, the path, and the whole reason."""
    path = str(tmp_path) if target == "dir" else str(tmp_path / "missing.json")
    line = assert_usage_error(run_liftoff(serve_args(tmp_path, flag, path)), flag, key)
    assert path in line, line
    assert reason in line, line
    assert line.count(f"invalid {key}") + line.count(f"invalid {flag}") == 1, line


def test_unusable_data_dir_fails_cleanly(tmp_path):
    """Documented as a start-up failure (exit 1), not a bad setting: still one
    line that names the path, and no listening line."""
    f = tmp_path / "plain-file"
    f.write_text("not a directory")
    proc = run_liftoff(["serve", "--port", "0", "--data-dir", str(f)])
    lines = proc.stderr.splitlines()
    assert proc.returncode in (1, 2), proc
    assert len(lines) == 1 and str(f) in lines[0], lines
    assert f.read_text() == "not a directory"


def test_no_command_and_unknown_command(tmp_path):
    for args in ([], ["launch"]):
        proc = run_liftoff(args)
        assert proc.returncode == 2, proc
        assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_sigint_also_exits_0(start_server):
    srv = start_server()
    assert srv.stop(signal.SIGINT) == 0


def test_listening_line_is_first_and_exact(start_server):
    srv = start_server("--log-level", "debug")
    first = srv.lines()[0]
    assert first == f"liftoff listening on http://127.0.0.1:{srv.port}"


@pytest.mark.parametrize("content,names", [
    ({"port": 70000}, ["port"]),
    ({"log_level": "chatty"}, ["log_level"]),
    ({"max_body_bytes": True}, ["max_body_bytes"]),
    ({"no_such_key": "1"}, ["no_such_key"]),
], ids=["port", "log_level", "bool-size", "unknown-key"])
def test_bad_config_file_exits_2_naming_the_key(tmp_path, content, names):
    import json
    cfg = tmp_path / "liftoff.json"
    cfg.write_text(json.dumps(content))
    line = assert_usage_error(run_liftoff(serve_args(tmp_path, "--config", str(cfg))), *names)
    assert str(cfg) in line, line


def test_config_file_not_json(tmp_path):
    cfg = tmp_path / "liftoff.json"
    cfg.write_text("port = 5000\n")
    assert_usage_error(run_liftoff(serve_args(tmp_path, "--config", str(cfg))), "--config")


def test_precedence_file_then_environment_then_flag(start_server, make_client, tmp_path):
    import json
    cfg = tmp_path / "liftoff.json"
    cfg.write_text(json.dumps({"public_url": "http://from-file.example"}))

    def signed_url(*args, env=None):
        srv = start_server("--config", str(cfg), *args, env=env)
        url = make_client(srv).connection.post("model_bundle_upload")["signedUrl"]
        srv.stop()
        return url
    assert signed_url().startswith("http://from-file.example/upload/")
    env = {"LIFTOFF_PUBLIC_URL": "http://from-env.example"}
    assert signed_url(env=env).startswith("http://from-env.example/upload/")
    assert signed_url("--public-url", "http://from-flag.example",
                      env=env).startswith("http://from-flag.example/upload/")
