import torch

from rllib_nsrl.symbolic.grid_dynamics import next_cells
from rllib_nsrl.symbolic.reward_predictor import RewardPredictor, reward_prediction_loss


def test_predict_action_rewards_reads_the_entered_cells():
    torch.manual_seed(0)
    net = RewardPredictor()
    probs = torch.rand(3, 25, 5)
    cells = next_cells(torch.tensor([0, 12, 24]))
    out = net.predict_action_rewards(probs, cells)
    assert out.shape == (3, 4)
    assert torch.allclose(out[1, 2], net(probs[1, 17]))


def test_learns_toy_label_to_reward_mapping_quickly():
    torch.manual_seed(0)
    rewards = torch.tensor([0.0, 0.0, -1.0, 1.0, 0.0])  # per label: empty, agent, circle, cross, square
    net = RewardPredictor()
    params = list(net.parameters())
    for _ in range(200):
        labels = torch.randint(0, 5, (32,))
        truths = torch.eye(5)[labels] * 0.9 + 0.05  # soft one-hot recognizer output
        loss = reward_prediction_loss(net(truths), rewards[labels])
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():  # plain SGD: torch.optim's first step costs seconds of lazy imports
            for param, grad in zip(params, grads, strict=True):
                param -= 0.3 * grad
    assert float(loss.detach()) < 0.01
    pred = net(torch.eye(5) * 0.9 + 0.05)
    assert torch.allclose(pred, rewards, atol=0.05)
