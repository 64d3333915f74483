"""Named recipes: one mechanism, flags on top, and the settings they rely on validated."""

from __future__ import annotations

import argparse
import itertools

import pytest

from mnistlab.commands import common
from mnistlab.config import RECIPES, TrainConfig, default_config, get_recipe, recipe_names
from mnistlab.errors import UserError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    common.add_recipe_flag(parser)
    common.add_model_flags(parser, defaults=False)
    common.add_train_flags(parser)
    return parser.parse_args(list(argv))


def test_fast_and_lenet5_are_listed_by_their_stable_names() -> None:
    assert {"fast", "lenet5"} <= set(recipe_names())
    assert get_recipe("fast").model == "convnet"
    assert default_config("lenet5") == get_recipe("lenet5").config()
    with pytest.raises(UserError, match="unknown recipe"):
        get_recipe("slow")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_recipe_gives_its_model_and_settings(name: str) -> None:
    recipe = RECIPES[name]
    args = parse("--recipe", name)
    assert common.spec_from_args(args).name == recipe.model
    config = common.config_from_args(args)
    assert {k: getattr(config, k) for k in recipe.settings} == recipe.settings


def test_flags_beside_a_recipe_override_only_what_they_name() -> None:
    fast = get_recipe("fast").config()
    config = common.config_from_args(parse("--recipe", "fast", "--epochs", "3", "--lr", "0.002"))
    assert (config.epochs, config.lr) == (3, 0.002)
    assert (config.optimizer, config.beta1, config.schedule) == (
        fast.optimizer,
        fast.beta1,
        fast.schedule,
    )


def test_without_a_recipe_the_mlp_keeps_its_defaults() -> None:
    assert common.config_from_args(parse()) == TrainConfig()
    assert common.spec_from_args(parse()).name == "mlp"


def test_a_recipe_for_another_model_is_refused() -> None:
    with pytest.raises(UserError, match="--recipe fast trains --model convnet"):
        common.spec_from_args(parse("--recipe", "fast", "--model", "lenet5"))


def test_onecycle_flag_turns_off_the_epoch_decay_it_replaces() -> None:
    config = common.config_from_args(parse("--model", "lenet5", "--schedule", "onecycle"))
    assert (config.schedule, config.lr_decay) == ("onecycle", 1.0)


@pytest.mark.parametrize(
    "bad",
    [
        {"beta1": 1.0},
        {"beta2": -0.1},
        {"schedule": "cosine"},
        {"warmup": 0.0},
        {"warmup": 1.0},
        {"schedule": "onecycle", "lr_decay": 0.5},
    ],
)
def test_bad_settings_are_refused(bad: dict) -> None:
    with pytest.raises(UserError):
        TrainConfig(**bad)


def test_onecycle_rises_to_lr_then_falls_to_almost_nothing() -> None:
    config = TrainConfig(lr=0.01, schedule="onecycle", warmup=0.25)
    total = 100
    rates = [config.lr_at_step(t, total, epoch=1) for t in range(total)]
    assert rates[0] == pytest.approx(0.01 / 25)
    assert max(rates) == pytest.approx(0.01) and rates.index(max(rates)) == 24
    assert rates[-1] == pytest.approx(0.01 / 25 / 1e4)
    assert all(a < b for a, b in itertools.pairwise(rates[:25]))
    assert all(a > b for a, b in itertools.pairwise(rates[24:]))


def test_epoch_schedule_ignores_the_step() -> None:
    config = TrainConfig(lr=0.1, lr_decay=0.5)
    assert config.lr_at_step(7, 10, epoch=3) == pytest.approx(0.025)


def test_the_recipes_are_the_published_ones() -> None:
    """What `--recipe` trains, against the recipes as published (README's table; the fast
    recipe is the peer's, benchmarks/peer.py: Adam lr 1e-2, betas (0.7, 0.9), one-cycle,
    batch 256, one epoch), not against the settings table it is built from."""
    fast = common.config_from_args(parse("--recipe", "fast"))
    assert (fast.optimizer, fast.lr, fast.beta1, fast.beta2) == ("adam", 0.01, 0.7, 0.9)
    assert (fast.schedule, fast.batch_size, fast.epochs, fast.l2) == ("onecycle", 256, 1, 0.0)
    lenet = common.config_from_args(parse("--recipe", "lenet5"))
    assert (lenet.optimizer, lenet.lr, lenet.momentum, lenet.batch_size) == (
        "momentum",
        0.01,
        0.9,
        20,
    )
    assert (lenet.l2, lenet.lr_decay, lenet.epochs, lenet.schedule) == (25.0, 0.8, 15, "epoch")


def test_an_unknown_recipe_names_the_known_ones() -> None:
    with pytest.raises(UserError) as refused:
        get_recipe("slow")
    assert str(refused.value) == "unknown recipe 'slow': choose one of lenet5, fast"
