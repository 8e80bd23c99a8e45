"""The provider's two Processing settings (Settings > Options > Processing > Providers > SESSRS) and the
environment they name."""

from __future__ import annotations

from processing.core.ProcessingConfig import ProcessingConfig, Setting

from .environment import HOME_VARIABLE, PYTHON_VARIABLE, Environment, find_environment

GROUP = "SESSRS"
SETTINGS = (
    Setting(
        GROUP,
        PYTHON_VARIABLE,
        "Python of the SESSRS environment (empty: $SESSRS_PYTHON, else the repository's .venv)",
        "",
        valuetype=Setting.FILE,
    ),
    Setting(
        GROUP,
        HOME_VARIABLE,
        "SESSRS repository folder (empty: $SESSRS_HOME, else the repository holding the plugin)",
        "",
        valuetype=Setting.FOLDER,
    ),
)


def add_settings() -> None:
    """Show the settings in the Processing options and read their saved values."""
    for setting in SETTINGS:
        ProcessingConfig.addSetting(setting)
    ProcessingConfig.readSettings()


def remove_settings() -> None:
    for setting in SETTINGS:
        ProcessingConfig.removeSetting(setting.name)


def configured_environment() -> Environment:
    """The environment the settings (or the environment variables, or the plugin's location) name."""
    python, home = (ProcessingConfig.getSetting(setting.name) or "" for setting in SETTINGS)
    return find_environment(python, home)
