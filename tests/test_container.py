"""The container and compose files keep the README's promises (no Docker engine needed: the files are read).

The image: base pinned by digest, third-party packages only from the hashed lock file, the local packages
installed as ordinary wheels (never editable), a HEALTHCHECK on /readyz. Compose: secrets from .env, every
variable it reads documented in .env.example, the scaled gateway without a host port behind the proxy, the
mounted policy file named by SAV_BRIDGE_POLICY__PATH, X_SCREEN_NAME optional. The compose file deploys
Zendesk, so this module needs the reference plugin (tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import sav_bridge
from sav_bridge.config import load_settings
from sav_bridge.policy import Policy

ROOT = Path(__file__).resolve().parent.parent
#: The project's own distributions: the core and every helpdesk plugin under adapters/.
PLUGIN_PROJECTS = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("adapters/*/pyproject.toml"))
LOCAL_PACKAGES = {"sav-bridge"} | {
    tomllib.loads((ROOT / p).read_text())["project"]["name"] for p in PLUGIN_PROJECTS
}


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    lines = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _pip_commands() -> list[list[str]]:
    """Every `pip install` / `pip wheel` command of every RUN, as words."""
    commands = []
    for keyword, rest in _instructions():
        if keyword == "RUN":
            for part in rest.split("&&"):
                words = shlex.split(part)
                if words[:2] in (["pip", "install"], ["pip", "wheel"]):
                    commands.append(words)
    return commands


def _lock() -> dict[str, dict[str, Any]]:
    """requirements.lock: name → {version, hashes, via} (via: the packages that need it)."""
    entries: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        stripped = line.strip()
        if match := re.match(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)", line):
            current = {"version": match[2], "hashes": [], "via": set()}
            entries[canonicalize_name(match[1])] = current
        elif not stripped:
            current = None
        elif current is not None and stripped.startswith("--hash=sha256:"):
            current["hashes"].append(stripped.removeprefix("--hash=sha256:").rstrip(" \\"))
        elif current is not None and stripped.startswith("#"):
            words = stripped.lstrip("#").split()
            words = words[1:] if words[:1] == ["via"] else words
            if words:
                current["via"].add(" ".join(words) if words[0] == "-r" else canonicalize_name(words[0]))
    return entries


def _pyproject(path: str) -> dict[str, Any]:
    return tomllib.loads((ROOT / path).read_text())


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def _interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}` over a parsed compose file."""
    if isinstance(value, dict):
        return {key: _interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match[1], match[2], match[3]
        present = env.get(name, "") != "" if operator and operator.startswith(":") else name in env
        if operator in (":?", "?") and not present:
            raise LookupError(f"{name}: {argument}")
        if operator in (":-", "-") and not present:
            return argument
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


def _compose(env: Mapping[str, str]) -> dict[str, Any]:
    return _interpolate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), env)


def test_base_image_is_pinned_by_digest() -> None:
    stages: set[str] = set()
    for keyword, rest in _instructions():
        if keyword == "FROM":
            image, *alias = rest.split()
            assert image in stages or re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", image), image
            stages.update(alias[1:] if alias[:1] == ["AS"] or alias[:1] == ["as"] else [])


def test_image_runs_unprivileged_and_its_healthcheck_asks_readyz() -> None:
    instructions = _instructions()
    (healthcheck,) = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert "/readyz" in healthcheck
    assert "/healthz" not in healthcheck
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("VOLUME", '["/data"]') in instructions
    assert ("ENTRYPOINT", '["sav-bridge"]') in instructions
    assert ("CMD", '["serve"]') in instructions


def test_third_party_packages_come_only_from_the_hashed_lock() -> None:
    commands = _pip_commands()
    from_lock = [words for words in commands if "-r" in words]
    assert from_lock, "no pip install -r in the Dockerfile"
    for words in from_lock:
        assert "--require-hashes" in words and "--no-deps" in words, words
        assert words[words.index("-r") + 1].endswith("requirements.lock"), words
    # Anything else is built or installed from local files only: nothing is resolved from an index unhashed.
    for words in commands:
        assert "--require-hashes" in words or "--no-index" in words, words


def test_local_packages_are_installed_as_wheels_never_editable() -> None:
    commands = _pip_commands()
    for words in commands:
        assert "-e" not in words and "--editable" not in words, words
        assert not any(word.startswith("--editable=") for word in words), words
    plugins = {"./" + str(Path(p).parent) for p in PLUGIN_PROJECTS}
    built = [words for words in commands if "." in words and plugins <= set(words)]
    assert built, "the core and every plugin under adapters/ are not all built into the image"
    assert all("--no-deps" in words for words in built)


def test_lock_pins_every_runtime_dependency_with_hashes_and_no_dev_tool() -> None:
    lock = _lock()
    assert all(entry["hashes"] for entry in lock.values()), "a locked package has no hash"
    for path in ("pyproject.toml", *PLUGIN_PROJECTS):
        for line in _pyproject(path)["project"]["dependencies"]:
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            if name in LOCAL_PACKAGES:
                continue
            assert name in lock, f"{name} ({path}) is not in requirements.lock: run make lock"
            assert requirement.specifier.contains(lock[name]["version"]), f"{name}: run make lock"
    extras = _pyproject("pyproject.toml")["project"]["optional-dependencies"]
    for line in (line for group in extras.values() for line in group):
        assert canonicalize_name(Requirement(line).name) not in lock, line


def test_lock_holds_nothing_the_packages_no_longer_declare() -> None:
    declared = {
        canonicalize_name(Requirement(line).name)
        for path in ("pyproject.toml", *PLUGIN_PROJECTS)
        for line in _pyproject(path)["project"]["dependencies"]
    }
    for name, entry in _lock().items():
        if entry["via"] & LOCAL_PACKAGES:
            assert name in declared, f"{name} is locked but no package declares it: run make lock"


def test_locked_setuptools_can_build_both_local_packages() -> None:
    locked = _lock()["setuptools"]["version"]
    for path in ("pyproject.toml", *PLUGIN_PROJECTS):
        for line in _pyproject(path)["build-system"]["requires"]:
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            assert name in _lock(), f"build requirement {name} ({path}) is not locked"
            if name == "setuptools":
                assert requirement.specifier.contains(locked), (path, line, locked)


def test_locked_setuptools_still_ships_pkg_resources_quietly_for_twitter_text() -> None:
    # twitter_text reads its emoji table through pkg_resources, which setuptools 82 removed and 80.9 made
    # warn on every import: the image would crash, or print a warning at each start.
    emoji = Path(importlib.util.find_spec("twitter_text").origin).parent / "regexp" / "emoji.py"
    if "pkg_resources" in emoji.read_text():
        assert Version(_lock()["setuptools"]["version"]) < Version("80.9")


def test_an_installed_package_finds_schemas_and_policies_under_its_prefix(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "sav_bridge"
    package.mkdir(parents=True)
    assert sav_bridge.data_root(package, tmp_path / "usr") == tmp_path / "usr" / "share" / "sav-bridge"
    assert sav_bridge.data_root(Path(sav_bridge.__file__).parent, tmp_path / "usr") == ROOT


def test_the_wheel_ships_every_schema_and_the_default_policy() -> None:
    data_files = _pyproject("pyproject.toml")["tool"]["setuptools"]["data-files"]
    shipped = {
        str(Path(target).relative_to("share/sav-bridge") / found.name)
        for target, patterns in data_files.items()
        for pattern in patterns
        for found in ROOT.glob(pattern)
    }
    wanted = {str(path.relative_to(ROOT)) for path in (ROOT / "schemas").glob("*.json")}
    assert wanted | {"policies/default.yaml"} <= shipped


def test_compose_takes_secrets_from_env_and_documents_every_variable_in_env_example() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("SECRET", "TOKEN", "PASSWORD")):
                assert isinstance(value, str) and "${" in value, f"{name}.{key} is written in the file"
        assert "env_file" not in service, f"{name} passes the whole .env to the container"
    read = {name for name, _, _ in _VARIABLE.findall((ROOT / "docker-compose.yml").read_text())}
    assert read == set(_env_example())
    # The build context is an allow-list, so .env can never be copied into an image layer.
    patterns = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert patterns[0] == "*"
    assert not any(pattern.startswith("!.env") for pattern in patterns)
    # Each line of .env.example sits under a comment (one comment may cover a block of related lines).
    block_has_comment = False
    for line in (ROOT / ".env.example").read_text().splitlines():
        if not line.strip():
            block_has_comment = False
        elif line.startswith("#"):
            block_has_comment = True
        else:
            assert block_has_comment, f"no comment for {line.split('=')[0]}"


def test_only_the_proxy_publishes_a_port_so_the_gateway_scales() -> None:
    services = _compose(_env_example())["services"]
    assert "ports" not in services["gateway"]
    publishing = {name for name, service in services.items() if service.get("ports")}
    assert publishing == {"proxy"}
    proxy = services["proxy"]
    assert re.fullmatch(r"(caddy|nginx):[\w.-]+@sha256:[0-9a-f]{64}", proxy["image"]), proxy["image"]
    mounts = {target: source for source, target, *_ in (volume.split(":") for volume in proxy["volumes"])}
    caddyfile = ROOT / mounts["/etc/caddy/Caddyfile"]
    assert caddyfile.is_file()
    # The upstreams are every replica of the gateway service, looked up by name, not a fixed address.
    assert re.search(r"dynamic a gateway 8080", caddyfile.read_text())


def test_the_policy_in_force_is_the_mounted_file() -> None:
    gateway = _compose(_env_example())["services"]["gateway"]
    in_container = gateway["environment"]["SAV_BRIDGE_POLICY__PATH"]
    mounts = {target: source for source, target, *_ in (volume.split(":") for volume in gateway["volumes"])}
    assert in_container in mounts, f"{in_container} is not mounted"
    assert gateway["volumes"][list(mounts).index(in_container)].endswith(":ro")
    Policy.from_file(ROOT / mounts[in_container])


def test_compose_starts_without_x_screen_name() -> None:
    env = {name: value for name, value in _env_example().items() if name != "X_SCREEN_NAME"}
    gateway = _compose(env)["services"]["gateway"]
    settings = load_settings(environ={str(key): str(value) for key, value in gateway["environment"].items()})
    assert settings.x.screen_name is None


def test_compose_refuses_to_start_without_a_secret() -> None:
    env = {name: value for name, value in _env_example().items() if name != "X_CONSUMER_SECRET"}
    with pytest.raises(LookupError, match="X_CONSUMER_SECRET"):
        _compose(env)


def test_everything_the_dockerfile_copies_is_in_the_build_context() -> None:
    """The context is an allow-list: a path the Dockerfile copies but the list leaves out fails the build
    ("not found") on the machine that builds the image, not here."""
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    copied = [
        source
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for source in line.split()[1:-1]
    ]
    missing = [src for src in copied if not any(src == a or src.startswith(a + "/") for a in allowed)]
    assert copied and missing == [], f"copied by the Dockerfile, left out by .dockerignore: {missing}"
