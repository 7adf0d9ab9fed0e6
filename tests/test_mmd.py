"Properties of the MMD estimators and the grouping by pattern, over random shapes."
import math
import pytest, torch
from hypothesis import given, settings, strategies as st
from mmd_music.mmd import (delay_layout, group_rows, independence_mmd2, kernel_sum, make_kernel, mmd2, parallel_layout,
                           product_of_marginals, shared_pairs)

KERNELS = ['gaussian_code', 'gaussian_paper', 'imq', 'linear', 'quadratic']

def full_sum(a, b, kernel, exclude_diagonal=False):
    t = torch.cdist(a, b).pow(2) if kernel.kind == 'distance' else a @ b.t()
    k = kernel.f(t)
    return k.sum() - (k.diagonal().sum() if exclude_diagonal else 0)

@settings(max_examples=30, deadline=None)
@given(st.integers(2, 90), st.integers(1, 9), st.integers(1, 40), st.sampled_from(KERNELS), st.booleans())
def test_chunked_equals_full_values_and_gradients(n, f, chunk, name, same):
    kernel = make_kernel(name)
    a = torch.randn(n, f, dtype=torch.float64, requires_grad=True)
    b = a if same else torch.randn(n + 3, f, dtype=torch.float64, requires_grad=True)
    inputs = [a] if same else [a, b]
    v1 = kernel_sum(a, None if same else b, kernel, chunk=chunk, exclude_diagonal=same)
    v2 = full_sum(a, b, kernel, exclude_diagonal=same)
    assert torch.allclose(v1, v2, rtol=1e-9, atol=1e-9)
    for g1, g2 in zip(torch.autograd.grad(v1, inputs), torch.autograd.grad(v2, inputs)):
        assert torch.allclose(g1, g2, rtol=1e-8, atol=1e-8)

def test_same_distribution_averages_to_zero_and_biased_is_positive():
    g = torch.Generator().manual_seed(0)
    kernel = make_kernel('gaussian_code')
    u, v = [], []
    for _ in range(60):
        x, y = torch.randn(100, 6, generator=g), torch.randn(100, 6, generator=g)
        u.append(float(mmd2(x, y, kernel, 'unbiased'))); v.append(float(mmd2(x, y, kernel, 'biased')))
    u = torch.tensor(u)
    assert abs(u.mean()) < 4 * u.std() / math.sqrt(len(u))
    assert min(v) > 0

def streams(B, T, rho, K=3, D=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    common = torch.randn(B, 1, D, T, generator=g)
    return math.sqrt(rho) * common + math.sqrt(1 - rho) * torch.randn(B, K, D, T, generator=g)

def rows(s): return s.permute(0, 3, 1, 2).reshape(-1, s.shape[1], s.shape[2])

@pytest.mark.parametrize('kernel', ['gaussian_code', 'gaussian_median', 'imq'])
def test_estimate_grows_with_correlation(kernel):
    g = torch.Generator().manual_seed(0)
    est = [float(independence_mmd2(rows(streams(16, 16, r)), kernel, generator=g)) for r in (0.0, 0.3, 0.6, 0.9)]
    assert est[0] < est[1] < est[2] < est[3], est

def test_reference_grows_with_T_while_unbiased_stays_near_zero():
    g = torch.Generator().manual_seed(0)
    ref, unb = [], []
    for T in (4, 8, 16):
        ref.append(sum(float(independence_mmd2(rows(streams(8, T, 0.0, seed=s)), estimator='reference', n_clips=8, generator=g)) for s in range(10)) / 10)
        unb.append(sum(float(independence_mmd2(rows(streams(8, T, 0.0, seed=s)), generator=g)) for s in range(10)) / 10)
    assert ref[0] < ref[1] < ref[2] and ref[2] > 1.5 * ref[1]
    assert max(abs(x) for x in unb) < 0.1 * ref[0]

@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(2, 6))
def test_shared_pairs_are_exactly_the_pairs_that_share_a_vector(n, K):
    g = torch.Generator().manual_seed(n * 7 + K)
    r = torch.randn(n, K, 2, generator=g)
    y, perms = product_of_marginals(r, g, return_perms=True)
    i, j = shared_pairs(perms)
    want = {(int(perms[jj, k]), jj) for jj in range(n) for k in range(K)}
    assert set(zip(i.tolist(), j.tolist())) == want and len(i) == len(want)
    for k in range(K): assert torch.equal(y[:, k], r[perms[:, k], k])

@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(2, 5), st.integers(1, 3), st.integers(1, 12))
def test_delay_grouping_equals_a_hand_made_shift(B, K, D, T):
    s = torch.randn(B, K, D, T)
    if T < K:
        with pytest.raises(ValueError, match='never predicts all codebooks'): group_rows(s, delay_layout(K, T))
        return
    got = group_rows(s, delay_layout(K, T))                  # [B * (T - K + 1), K, D]
    shifted = torch.stack([s[:, k, :, K - 1 - k:T - k] for k in range(K)], 1)   # codebook k delayed by k, cropped
    assert torch.equal(got, shifted.permute(0, 3, 1, 2).reshape(-1, K, D))
    assert torch.equal(group_rows(s, parallel_layout(K, T)), s.permute(0, 3, 1, 2).reshape(-1, K, D))

def test_bad_inputs():
    k = make_kernel('gaussian_code')
    with pytest.raises(ValueError, match='must both be'): mmd2(torch.randn(3, 2), torch.randn(4, 2), k)
    with pytest.raises(ValueError, match='n_clips'): mmd2(torch.randn(3, 2), torch.randn(3, 2), k, 'reference')
    with pytest.raises(ValueError, match='unknown estimator'): mmd2(torch.randn(3, 2), torch.randn(3, 2), k, 'fast')
    with pytest.raises(ValueError, match='unknown kernel'): make_kernel('laplace')
    with pytest.raises(ValueError, match='at least 2 codebooks'): independence_mmd2(torch.randn(5, 1, 3))

def test_dependence_measures_refuse_bad_input_and_flag_undersampling():
    from mmd_music.dependence import gaussian_total_correlation, pairwise_mi, total_correlation, bootstrap
    with pytest.raises(ValueError, match='integer'): pairwise_mi(torch.rand(2, 3, 4))
    with pytest.raises(ValueError, match='non-negative'): pairwise_mi(-torch.ones(1, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match='cannot estimate'): gaussian_total_correlation(torch.randn(1, 4, 8, 10))
    with pytest.raises(ValueError, match='at least 2 clips'): bootstrap(torch.zeros(1, 2, 5, dtype=torch.long), lambda c: 0.0)
    codes = torch.randint(0, 2048, (4, 4, 50), generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match='undersampled'): out = total_correlation(codes)
    assert out['coverage'] > 0.9
