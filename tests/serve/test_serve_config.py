"""The server config file: errors name file, line and field; `medq serve calibrate` picks
the threshold from a stored run's risk–coverage curve and writes it into the file."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.results import hit
from medq.runner import EvalSpec, evaluate
from medq.serve.config import ConfigError, load_config
from medq.store import Store
from medq.tasks import load_task
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest

GOOD = """\
# the team's pipelines
[server]
port = 8123

[[pipeline]]
name = "direct"
model = "scripted/random"
strategy = "direct"

[[pipeline]]
name = "sc"              # keep this comment
model = "scripted/random"
strategy = "self_consistency(n=5,base=direct)"
store_content = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "serve.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert [p.name for p in config.pipelines] == ["direct", "sc"]
    assert config.server.port == 8123 and config.server.host == "127.0.0.1"
    assert config.pipeline("sc").store_content and not config.pipeline("direct").store_content
    assert config.pipeline("sc").strategy == "self_consistency:base=direct,n=5"


@pytest.mark.parametrize(("change", "line", "words"), [
    (('strategy = "direct"', 'strategy = "direct"\ntemprature = 0.5'), 9, "unknown key "
     "'temprature'"),
    (('store_content = true', 'store_content = "yes"'), 14, "store_content must be true or"),
    (('name = "sc" ', 'name = "direct" '), 11, "defined twice"),
    (('port = 8123', 'port = 99999'), 3, "port must be"),
    (('strategy = "self_consistency(n=5,base=direct)"', 'strategy = "sc(n=5"'), 13,
     "strategy"),
    (('store_content = true', 'abstain_below = 1.5'), 14, "abstain_below must be in [0, 1]"),
    (('store_content = true', 'n_per_request = "yes"'), 14, "n_per_request must be \"auto\""),
])
def test_errors_name_file_line_and_field(tmp_path: Path, change: tuple[str, str], line: int,
                                         words: str) -> None:
    text = GOOD.replace(*change)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}:{line}: ") and words in message
    assert "\n" not in message
    result = CliRunner().invoke(app, ["serve", "pipelines", "--config", str(path)])
    assert result.exit_code == 2 and result.output.strip() == f"error: {message}"


def test_unknown_strategy_and_missing_corpus_fail_at_start(tmp_path: Path) -> None:
    for strategy, words in (("nonsense", "unknown"), ("medrag(corpus=absent)", "absent"),
                            ("calc_direct", "multiple-choice")):
        path = write(tmp_path, f'[[pipeline]]\nname = "x"\nmodel = "scripted/first"\n'
                               f'strategy = "{strategy}"\n')
        result = CliRunner().invoke(app, ["serve", "pipelines", "--config", str(path)])
        assert result.exit_code == 2, result.output
        assert words in result.output and "Traceback" not in result.output


def expected_threshold(samples: list, target: float, least: int) -> tuple[float, int]:
    """By brute force: the lowest confidence t such that the items at or above t (at
    least `least` of them) are right at least `target` of the time; and how many items
    that answers."""
    scored = [(s["confidence"], hit(s)) for s in samples if hit(s) is not None]
    best = None
    for t in sorted({c for c, _ in scored}, reverse=True):
        answered = [h for c, h in scored if c >= t]
        if len(answered) >= least and sum(answered) / len(answered) >= target:
            best = (t, len(answered))
    assert best is not None
    return best


def informative_model() -> ScriptedModel:
    """Five samples per item that agree more often when they are right: a third of the
    items all five say the gold letter; a third three of five do; a third three of five
    say a wrong letter (and one in seven of those items all five do)."""
    gold = {q.stem: (q.gold, sorted(set(q.options) - {q.gold})[0])
            for q in load_task("medqa", sample=True).questions}

    def respond(request: GenerationRequest) -> str:
        prompt = request.messages[-1].content
        stem = next(s for s in gold if s in prompt)
        right, wrong = gold[stem]
        kind = zlib.crc32(stem.encode()) % 21
        i = request.sample_index
        if kind % 3 == 0:
            letter = right
        elif kind % 3 == 1:
            letter = right if i < 3 else wrong
        else:
            letter = wrong if i < 3 or kind == 20 else right
        return f"Answer: {letter}"

    return ScriptedModel(respond, name="scripted/informative")


def test_calibrate_writes_the_threshold_into_the_pipeline(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    # The run is stored under the pipeline's model name; the scripted model answers it.
    spec = EvalSpec(task="medqa", sample=True, model="scripted/random",
                    strategy="self_consistency(n=5,base=direct)")
    with Store() as store:
        run_id = evaluate(spec, store=store, model=informative_model(),
                          progress=False).run_id
        samples = list(store.samples(run_id))
    confidences = {s["confidence"] for s in samples}
    assert confidences == {0.6, 1.0}
    target = 0.9
    threshold, answered = expected_threshold(samples, target, 5)
    assert threshold == 1.0 and 5 <= answered < len(samples)

    runner = CliRunner()
    result = runner.invoke(app, ["serve", "calibrate", run_id, "--config", str(path),
                                 "--pipeline", "sc", "--target-selective-accuracy",
                                 str(target), "--min-answered", "5"])
    assert result.exit_code == 0, result.output
    assert f"abstain_below = {threshold:g}" in result.output
    config = load_config(path)
    sc = config.pipeline("sc")
    assert sc.abstain_below == threshold and config.pipeline("direct").abstain_below is None
    assert sc.calibration["run"] == run_id and sc.calibration["answered"] == answered
    assert sc.calibration["selective_accuracy"] >= target
    assert sc.store_content  # the rest of the pipeline is as it was
    text = path.read_text()
    assert "# keep this comment" in text and "# the team's pipelines" in text
    # The threshold that reaches the target answers too few items: refused, saying why.
    floor = runner.invoke(app, ["serve", "calibrate", run_id, "--config", str(path),
                                "--pipeline", "sc", "--target-selective-accuracy",
                                str(target), "--min-answered", str(answered + 1)])
    assert floor.exit_code == 2 and f"at least {answered + 1} items" in floor.output

    # The hash changes with the threshold: it is part of what the pipeline answers by.
    hashes = runner.invoke(app, ["serve", "pipelines", "--config", str(path), "--hash"])
    assert hashes.exit_code == 0
    again = runner.invoke(app, ["serve", "calibrate", run_id, "--config", str(path),
                                "--pipeline", "sc", "--target-selective-accuracy", "0.2"])
    assert again.exit_code == 0 and path.read_text().count("abstain_below") == 1
    assert load_config(path).pipeline("sc").abstain_below == 0.6
    rehashed = runner.invoke(app, ["serve", "pipelines", "--config", str(path), "--hash"])
    assert hashes.output.splitlines()[0] == rehashed.output.splitlines()[0]  # direct
    assert hashes.output.splitlines()[1] != rehashed.output.splitlines()[1]  # sc

    other = runner.invoke(app, ["serve", "calibrate", run_id, "--config", str(path),
                                "--pipeline", "direct"])
    assert other.exit_code == 2 and "pass --force" in other.output
    unreachable = runner.invoke(app, ["serve", "calibrate", run_id, "--config", str(path),
                                      "--pipeline", "sc", "--target-selective-accuracy",
                                      "1.0", "--min-answered", "5"])
    assert unreachable.exit_code == 2 and "reaches selective accuracy 1.0" in \
        unreachable.output


def test_the_readme_config_is_a_valid_config(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Serving", 1)[1]
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    assert len(toml.strip().splitlines()) <= 10
    config = load_config(write(tmp_path, toml))
    assert config.pipeline("medrag-sc5").abstain_below == 0.7
    assert config.limits.requests_per_minute == 60
