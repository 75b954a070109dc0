"""Packages and where their folders are; everything else is in setup.cfg."""

from setuptools import find_packages, setup

# Folder -> installed name: every top-level name this project installs starts with "videostar_".
RENAMED = {"videostar_agents": "agents", "videostar_trainers": "trainers", "videostar_benchmarks": "benchmarks"}

setup(
    packages=find_packages(include=["videostar_env", "videostar_env.*"])
    + [f"{name}.{sub}" if sub else name for name, folder in RENAMED.items() for sub in ["", *find_packages(folder)]],
    package_dir=RENAMED,
    package_data={"videostar_benchmarks": ["data/*.json"]},
)
