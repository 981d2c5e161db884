"""Manifest loading: the corpus of valid and invalid manifests, and the loader's edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specrunner.errors import ManifestError
from specrunner.manifest.loader import load_manifests, local_files
from specrunner.manifest.problems import Problem, json_path
from specrunner.spec import LocalDataset, PublishedDataset, RawAlgorithm

CORPUS = Path(__file__).parents[1] / "data" / "manifests"
INVALID = CORPUS / "invalid"
VALID = CORPUS / "valid"
TEST_ENV = {
    "SPECRUNNER_TEST_DID": "did:op:" + "12" * 32,
    "SPECRUNNER_TEST_URL": "https://provider.test",
}
INVALID_CASES = sorted(
    path.name for path in INVALID.iterdir() if path.suffix == ".yaml" or path.is_dir()
)


def problems_of(paths: list[str], environ: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ManifestError) as caught:
        load_manifests(paths, environ={} if environ is None else environ)
    return caught.value.problems


@pytest.mark.parametrize("case", INVALID_CASES)
def test_invalid_corpus_gives_exactly_the_expected_problems(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected_file = INVALID / (case.removesuffix(".yaml") + ".expected")
    expected = expected_file.read_text(encoding="utf-8").splitlines()
    monkeypatch.chdir(INVALID)
    assert [problem.format() for problem in problems_of([case])] == expected


def test_every_invalid_case_has_its_expected_output() -> None:
    expected = {path.stem for path in INVALID.glob("*.expected")}
    assert expected == {case.removesuffix(".yaml") for case in INVALID_CASES}


@pytest.mark.parametrize("case", sorted(path.name for path in VALID.glob("*.yaml")))
def test_valid_corpus_loads(case: str) -> None:
    specs = load_manifests([VALID / case], environ=TEST_ENV)
    assert specs
    assert all(spec.source is not None and spec.source.file.endswith(case) for spec in specs)


def test_published_manifest_fields() -> None:
    (spec,) = load_manifests([VALID / "published.yaml"], environ={})
    dataset = spec.datasets[0]
    assert isinstance(dataset, PublishedDataset)
    assert dataset.service_id == "compute"
    assert dataset.transfer_tx_id == "0x" + "cd" * 32  # a tx hash is not mistaken for a key
    assert dataset.userdata == {"limit": 10}
    assert spec.provider is not None and spec.provider.chain_id == 8996
    assert spec.wallet is not None and spec.wallet.env_var == "SPECRUNNER_PRIVATE_KEY"
    assert spec.environment.id == "ocean-compute-env-1"
    assert spec.policy.timeout == 5400 and spec.policy.retries == 2
    assert spec.metadata.labels == {"team": "research", "cost-centre": "42"}
    assert spec.outputs.dir == "results/published"


def test_local_paths_resolve_from_the_manifest_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)  # not the manifest's folder: paths must still resolve
    inline, folder = load_manifests(["valid/raw-and-local.yaml"], environ={})
    glob_input = inline.datasets[0]
    assert isinstance(glob_input, LocalDataset)
    assert glob_input.files == ((VALID / "data" / "table.csv").absolute(),)
    folder_input = folder.datasets[0]
    assert isinstance(folder_input, LocalDataset)
    images = VALID / "data" / "images"
    assert folder_input.files == ((images / "one.txt").absolute(), (images / "two.txt").absolute())
    assert isinstance(folder.algorithm, RawAlgorithm)
    assert folder.algorithm.file_path == (VALID / "data" / "algo.py").absolute()
    assert folder.algorithm.container.checksum == "sha256:" + "0" * 64
    # a merge key (<<) fills in what is not written; the alias reuses the anchored mapping
    assert folder_input.userdata == {"sample": 0.1, "seed": 8}
    assert folder.algorithm.custom_data == {"sample": 0.1, "seed": 7}
    assert inline.source is not None and inline.source.document == 0
    assert folder.source is not None and (folder.source.document, folder.source.line) == (1, 17)


def test_environment_variables_are_substituted_but_never_the_wallet_key() -> None:
    (spec,) = load_manifests([VALID / "env-substitution.yaml"], environ=TEST_ENV)
    assert spec.provider is not None and spec.provider.url == "https://provider.test"
    assert spec.datasets[0] == PublishedDataset(
        did=TEST_ENV["SPECRUNNER_TEST_DID"], serviceId="compute"
    )
    assert isinstance(spec.algorithm, RawAlgorithm)
    assert spec.algorithm.rawcode == 'print("https://provider.test")'
    (published,) = load_manifests(
        [VALID / "published.yaml"], environ={"SPECRUNNER_PRIVATE_KEY": "0x1"}
    )
    assert published.wallet is not None
    assert published.wallet.private_key == "${env:SPECRUNNER_PRIVATE_KEY}"


def test_folder_argument_loads_every_yaml_file_sorted_once(tmp_path: Path) -> None:
    body = (VALID / "published.yaml").read_text()
    (tmp_path / "nested" / ".hidden").mkdir(parents=True)
    (tmp_path / "b.yml").write_text(body.replace("name: published", "name: b"))
    (tmp_path / "nested" / "a.yaml").write_text(body.replace("name: published", "name: a"))
    (tmp_path / "nested" / ".hidden" / "x.yaml").write_text("not: [valid")
    (tmp_path / "notes.txt").write_text("not: [valid")
    specs = load_manifests([tmp_path, tmp_path / "b.yml"], environ={})
    assert [spec.name for spec in specs] == ["b", "a"]


def test_missing_path_and_empty_folder_are_problems(tmp_path: Path) -> None:
    problems = problems_of([str(tmp_path / "nope"), str(tmp_path)])
    assert [(p.file, p.line, p.message) for p in problems] == [
        (str(tmp_path / "nope"), 1, "no such file or folder"),
        (str(tmp_path), 1, "no *.yaml or *.yml files in this folder"),
    ]


def test_problems_from_all_files_are_collected_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(INVALID)
    problems = problems_of(["wrong-api-version.yaml", "empty.yaml", "tab-indentation.yaml"])
    assert [p.file for p in problems] == [
        "wrong-api-version.yaml",
        "wrong-api-version.yaml",
        "empty.yaml",
        "tab-indentation.yaml",
    ]


def test_bad_bytes_and_control_characters_are_located(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes(b"kind: ComputeJob\nname: caf\xe9\n")
    (tmp_path / "nul.yaml").write_text("kind: ComputeJob\nname: a\x00b\n")
    problems = problems_of([str(tmp_path / "latin1.yaml"), str(tmp_path / "nul.yaml")])
    assert [(p.line, p.col, p.message) for p in problems] == [
        (2, 10, "not UTF-8 text (byte 0xe9)"),
        (2, 8, "character U+0000 is not allowed in YAML"),
    ]


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, "- " * 50_000 + "x", "a: &a [*a]\n", "? [a]\n: b\n", "x: !!int abc\n"],
)
def test_pathological_yaml_is_a_problem_not_a_crash(tmp_path: Path, text: str) -> None:
    # A recursive composer (libyaml's included) overflows on "[[[[…"; we must not.
    (tmp_path / "bad.yaml").write_text(text)
    assert problems_of([str(tmp_path / "bad.yaml")])


def test_tabs_are_fine_inside_block_scalars_and_after_colons(tmp_path: Path) -> None:
    # Only indentation tabs are YAML errors; code in `rawcode: |` may well contain tabs.
    text = (VALID / "raw-and-local.yaml").read_text().split("---")[0]
    text = text.replace('    print(os.listdir("/data/inputs"))', "    if True:\n    \tprint(1)")
    text = text.replace("language: python", "language:\tpython")
    (tmp_path / "tabs.yaml").write_text(text)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a\n")
    (spec,) = load_manifests([tmp_path / "tabs.yaml"], environ={})
    assert isinstance(spec.algorithm, RawAlgorithm)
    assert spec.algorithm.rawcode == "import os\nif True:\n\tprint(1)\n"
    assert spec.algorithm.language == "python"


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in "bcdef":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    (problem,) = problems_of([str(tmp_path / "bomb.yaml")])
    assert "expands to more than" in problem.message


def test_local_files_glob_folder_and_missing(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/1.csv", "d/sub/2.csv", "d/.hidden", "d/3.txt"):
        (tmp_path / name).write_text("x")
    assert local_files(tmp_path, "d/**/*.csv") == (tmp_path / "d/1.csv", tmp_path / "d/sub/2.csv")
    assert local_files(tmp_path, "d") == (
        tmp_path / "d/1.csv",
        tmp_path / "d/3.txt",
        tmp_path / "d/sub/2.csv",
    )
    assert local_files(tmp_path, "nope.csv") == ()


def test_problem_format_and_json_path() -> None:
    problem = Problem("a.yaml", 3, 5, json_path(("datasets", 0, "did")), "bad", "fix it")
    assert problem.format() == "a.yaml:3:5: $.datasets[0].did: bad (hint: fix it)"
    assert Problem("a.yaml", 1, 1, "$", "empty").format() == "a.yaml:1:1: $: empty"
    assert json_path(("metadata", "labels", "a b", 'q"')) == '$.metadata.labels["a b"]["q\\""]'
    assert problem.as_dict()["column"] == 5


def _load_text(directory: Path, text: str) -> None:
    (directory / "fuzz.yaml").write_text(text, encoding="utf-8")
    try:
        load_manifests([str(directory / "fuzz.yaml")], environ={})
    except ManifestError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.col >= 1 and problem.format()


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text_never_raises_anything_but_manifest_error(tmp_path: Path, text: str) -> None:
    _load_text(tmp_path, text)


@FUZZ
@given(value=json_values)
def test_random_yaml_documents_never_traceback(tmp_path: Path, value: object) -> None:
    _load_text(tmp_path, yaml.safe_dump(value, allow_unicode=True))


@FUZZ
@given(
    data=st.data(),
    case=st.sampled_from(sorted(VALID.glob("*.yaml")) + sorted(INVALID.glob("*.yaml"))),
)
def test_mutated_corpus_never_tracebacks(tmp_path: Path, data: st.DataObject, case: Path) -> None:
    text = case.read_text(encoding="utf-8")
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 20)))
    insert = data.draw(st.text(alphabet="\t :-[]{}&*!|>'\"#%@`0x1a\n", max_size=8))
    _load_text(tmp_path, text[:start] + insert + text[end:])


def _leaf_paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [path] if path else []
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in children:
        found += _leaf_paths(child, (*path, key))
    return found


PYDANTIC_WORDING = ("Input should", "Field required", "Extra inputs", "String should")


@FUZZ
@given(data=st.data(), case=st.sampled_from(["published.yaml", "env-substitution.yaml"]))
def test_structurally_mutated_manifests_are_explained_by_the_schema(
    tmp_path: Path, data: st.DataObject, case: str
) -> None:
    """Replace, add or drop keys of a valid manifest: any problem must be one of ours, never
    pydantic's fallback wording, which would mean the schema and the models disagree."""
    document = yaml.safe_load((VALID / case).read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_leaf_paths(document)))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        new_key = data.draw(st.sampled_from(["did", "path", "rawcode", "file", "id", "minCpu"]))
        action = data.draw(st.sampled_from(["replace", "add", "drop"]))
        if action == "replace":
            parent[path[-1]] = data.draw(json_values)
        elif action == "add" and isinstance(parent, dict):
            parent[new_key] = data.draw(json_values | st.just("did:op:" + "a" * 64))
        elif isinstance(parent, dict):
            del parent[path[-1]]
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    try:
        load_manifests([tmp_path / "m.yaml"], environ=TEST_ENV)
    except ManifestError as exc:
        assert not [p for p in exc.problems if p.message.startswith(PYDANTIC_WORDING)]
