#!/usr/bin/env bash
# GPT-OSS-20B sweep (Global-MMLU medical, first study's grid): array tasks share the output directory.
# Submit from the repository root:   sbatch jobs/sweep_gptoss.sh
# Other config or settings:          MOE_CONFIG=configs/x.yaml MOE_OVERRIDES="k=v" sbatch jobs/sweep_gptoss.sh
# (sbatch options on the command line override the #SBATCH lines, e.g. --array=0-31%16.)
#SBATCH --job-name=moe-gptoss
#SBATCH --array=0-15%8
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=16
#SBATCH --gres=gpu:1
#SBATCH --mem=80G
#SBATCH --time=24:00:00
#SBATCH --signal=B:USR1@600
#SBATCH --output=%x-%A_%a.out
#SBATCH --open-mode=append
#SBATCH --requeue
MOE_CONFIG=${MOE_CONFIG:-configs/gptoss_mmlu.yaml}
source "${SLURM_SUBMIT_DIR:-.}/jobs/lib/array_task.sh"
