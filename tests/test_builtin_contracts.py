"""nk's built-in components pass the same contract suites third-party plugins use."""

from __future__ import annotations

from nk.testing import DatasetContract, FeaturizerContract, LearnerContract, LoaderContract, ReporterContract


class TestSvm(LearnerContract):
    name = "svm"


class TestSvr(LearnerContract):
    name = "svr"


class TestKnn(LearnerContract):
    name = "knn"


class TestKnnReg(LearnerContract):
    name = "knn_reg"


class TestTree(LearnerContract):
    name = "tree"
    params = {"max_depth": 3}


class TestTreeReg(LearnerContract):
    name = "tree_reg"
    params = {"max_depth": 4}


class TestExtraTrees(LearnerContract):
    name = "extra_trees"
    params = {"n_estimators": 20}


class TestExtraTreesReg(LearnerContract):
    name = "extra_trees_reg"
    params = {"n_estimators": 20}


class TestRandomForest(LearnerContract):
    name = "random_forest"
    params = {"n_estimators": 20}


class TestRandomForestReg(LearnerContract):
    name = "random_forest_reg"
    params = {"n_estimators": 20}


class TestLogReg(LearnerContract):
    name = "log_reg"


class TestLinReg(LearnerContract):
    name = "lin_reg"


class TestBayes(LearnerContract):
    name = "bayes"


class TestMfcc(FeaturizerContract):
    name = "mfcc"


class TestDemo(LoaderContract):
    name = "demo"
    params = {"n_utterances": 1}


class TestPlots(ReporterContract):
    name = "plots"


def test_class_weighting_and_seed_reach_the_estimator(nk_pm):
    svm = nk_pm.registry.get("model", "svm")
    est = svm.build({**svm.defaults(), "class_weight": True})
    assert est.get_params()["estimator__class_weight"] == "balanced"
    tree = nk_pm.registry.get("model", "tree").build(nk_pm.registry.get("model", "tree").defaults())
    assert tree.get_params()["random_state"] is None  # the pipeline seeds it with cfg.seed


class TestPolishRecipe(DatasetContract):
    name = "polish"
