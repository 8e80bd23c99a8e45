"""The output folders name the files the stage writes; the application and a restart find them through the folder
objects."""

import json

from sessrs_cases import write_random_scenes

import sessrs.application as application
from rscommon.datasets import URBAN
from sessrs.application import apply_to_samples
from sessrs.choose import restart
from sessrs.folders import ChoiceFolder, RefinedFolder
from sessrs.inputs import pair_inputs
from sessrs.thresholds import Thresholds

BEST = Thresholds(t1={1: 0.5, 2: 0.6}, t2={1: 0.55, 2: 0.7}, modify=[1, 2])


def test_a_choice_folder_names_its_refined_maps_folder_and_the_files_in_it(tmp_path):
    folder = ChoiceFolder(tmp_path / "out")
    assert folder.refined == RefinedFolder(tmp_path / "out" / "se_mask")
    assert folder.refined.record == tmp_path / "out" / "se_mask" / ".applied.json"
    assert folder.refined.refined_map("3514") == tmp_path / "out" / "se_mask" / "3514.png"
    assert folder.method_choice == tmp_path / "out" / "method_choice.json"
    elsewhere = ChoiceFolder(tmp_path / "out", tmp_path / "maps")
    assert elsewhere.refined.root == tmp_path / "maps"
    assert ChoiceFolder(tmp_path / "out", RefinedFolder(tmp_path / "maps")) == elsewhere


def test_the_application_writes_where_its_folder_says_and_a_restart_forgets_its_images(tmp_path, monkeypatch):
    data = write_random_scenes(tmp_path / "data", [3, 4])
    samples = pair_inputs(data / "pred", data / "sam", data / "gt")
    folder = ChoiceFolder(tmp_path / "out")
    report = apply_to_samples(samples, URBAN, BEST, folder.refined)
    assert sorted(folder.refined.root.glob("*.png")) == [folder.refined.refined_map(s.stem) for s in samples]
    record = json.loads(folder.refined.record.read_text())
    assert sorted(record["images"]) == ["s0", "s1"]
    folder.joint_state.write_text("{}")
    restart(folder)
    assert not folder.joint_state.exists()
    assert json.loads(folder.refined.record.read_text()) == {**record, "images": {}}, "the settings are kept"
    refined, refine_one = [], application._refine_one
    monkeypatch.setattr(application, "_refine_one", lambda job: refined.append(job[0].stem) or refine_one(job))
    again = apply_to_samples(samples, URBAN, BEST, folder.refined)
    assert json.dumps(again, sort_keys=True) == json.dumps(report, sort_keys=True), "NaN of absent classes alike"
    assert sorted(refined) == ["s0", "s1"], "every image refined again"
