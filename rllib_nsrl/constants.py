"""Batch, observation and metric keys: one spelling each, imported everywhere."""

# Observation dict keys (what the action-mask connector writes into episodes).
OBS = "observations"
ACTION_MASK = "action_mask"

# Module forward outputs of the symbolic layers.
SHAPE_PROBS = "shape_probs"  # [B, 25, 5] label truths of each grid cell
DISTINCT_PATCHES = "distinct_patches"  # [M, 3, 10, 10] the distinct cell patches of a training batch
HEAD_FEATURES = "head_features"  # [B, extra_feature_dim] precomputed extra inputs of the dueling heads

# Learner metric names (logged per update so a user can watch the logic being learned).
SAT_A1 = "ltn_sat_A1"
SAT_A2 = "ltn_sat_A2"
SAT_A3 = "ltn_sat_A3"
SAT_SHAPES = "ltn_sat_A1_A3"
SAT_A4 = "ltn_sat_A4"
REWARD_PRED_MSE = "reward_pred_mse"
DQN_LOSS = "dqn_loss"
RECOGNIZER_RESTARTS = "ltn_recognizer_restarts"

# Episode metrics of the SymDQN paper (reported by RLlib per evaluation epoch).
SCORE = "score"
NEGATIVE_RATIO = "negative_ratio"
