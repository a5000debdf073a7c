// Backward through time for a slice of the batch (rows b0..b1), one call per thread.
//
// From the saved post-activation values, per step t from T-1 down to 0 (∂ of the forward's equations):
//   dh    = dy_t + dh_t (from step t+1)                  // rows past their length: dy ignored, dh, dc pass
//   dh̃    = (1 - z^h) dh,             dh_{t-1} += z^h dh
//   dr    = W_hrᵀ dh̃                                     // with a projection, else dr = dh̃
//   do    = dr ⊙ tanh(ĉ)
//   dĉ    = dr ⊙ o ⊙ (1 - tanh²(ĉ))
//   dc̃    = LN_cᵀ(dĉ) + (1 - z^c) dc + p_o ⊙ da_o
//   da_o  = do ⊙ o (1 - o)
//   di    = dc̃ ⊙ g                                       // minus df with coupled gates (f = 1 - i)
//   dg    = dc̃ ⊙ i
//   df    = dc̃ ⊙ c_{t-1}
//   da_i  = di ⊙ i (1 - i)
//   da_f  = df ⊙ f (1 - f)                               // 0 with coupled gates
//   da_g  = dg ⊙ (1 - g²)
//   dc_{t-1} = dc̃ ⊙ f + z^c dc + p_i ⊙ da_i + p_f ⊙ da_f
//   dxg_t = da;   dhh_t = LN_hhᵀ(da)
//   dh_{t-1} += m ⊙ (W_hhᵀ dhh_t)                         // one small GEMM for all rows of the slice
// Parameter gradients that are sums over steps of elementwise products (peephole, layer-norm gains and
// biases) are accumulated per thread, and so is dW_ih with the layer-normed input projection inside the
// loop (dxg_t is then used once, here, and never stored); the other weight gradients are large GEMMs
// after the loop.

// Elements of the scratch backward_rows carves below: dH, dC, dHz, dR, dChat, dA, dHin, dUs, dXs and Xih for
// every row of the batch, then valid, Dense, valid_dense, xhat_c, Grow, Arow and Apad.
inline long backward_scratch(const Dims& d) {
  return d.B * (15 * d.Hp + 3 * d.Rp + 2 * d.Ip) + 25 * d.Hp + bf16_scratch(d);
}

// dW_ihᵀ += x_tᵀ dxg_t over a thread's nb rows of one step (layer norm with the input projection inside):
// float32 (gemm_tn.h), or with Dims::bf16 both operands as pairs of rows in `pairs`, then bfloat16 tiles.
template <class T>
inline void input_weight_grad_step(const Dims& d, const T* x, int nb, const T* dU, long GW, T* dw_ih,
                                   uint32_t* pairs) {
#ifdef LSTMKIT_BF16
  if constexpr (sizeof(T) == 4) {
    if (d.bf16) {
      const long K2 = (nb + 1) / 2, Iw = (d.I + 15) / 16 * 16;
      uint32_t* A2 = pairs;
      uint32_t* B2 = pairs + K2 * Iw;
      bf16_pair_interleave(x, d.Ip, d.I, nb, nullptr, 1, 0, K2, A2, Iw);
      bf16_pair_interleave(dU, GW, GW, nb, nullptr, 1, 0, K2, B2, GW);
      gemm_tn_bf16(0, d.I, GW, K2, A2, Iw, B2, GW, dw_ih, GW, true);
      return;
    }
  }
#else
  (void)pairs;
#endif
  const TnPart<T> x_t{x, d.Ip, nullptr, 0, d.I, dw_ih};
  gemm_tn<T>(&x_t, 1, GW, 1, nb, dU, GW, GW, true);
}

template <class T>
void backward_rows(const Dims& d, const BackwardBuffers<T>& w, long b0, long b1, T* scratch, T* dparams,
                   T* dw_ih) {
  constexpr int V = Vec<T>::lanes;
  const ForwardBuffers<T>& f = w.fw;
  const long B = d.B, H = d.H, R = d.R, Hp = d.Hp, Rp = d.Rp, G4 = 4 * Hp;
  const int nb = int(b1 - b0);
  T* dH = scratch;             // (nb, Rp) dh_t carried from step t+1
  T* dC = dH + B * Rp;         // (nb, Hp) dc_t carried from step t+1
  T* dHz = dC + B * Hp;        // (nb, Rp) z^h dh, the zoneout share of dh_{t-1}
  T* dR = dHz + B * Rp;        // (nb, Hp) dr
  T* dChat = dR + B * Hp;      // (nb, Hp) dĉ, then dc̃'s layer-norm share
  T* dA = dChat + B * Hp;      // (nb, 4Hp) da, padded
  const bool ln_in = d.layer_norm && d.I > 0;  // LN_ih(W_ih x_t) inside the loop: dx_t from its own GEMM
  const long GW = ln_in ? gate_width(H, V) : G4;  // its norms' rows are dense (lstm_forward.h)
  const long Nb = Rp + (d.dx && !ln_in ? d.Ip : 0);
  T* dHin = dA + B * G4;       // (nb, Nb) [W_hh | W_ih]ᵀ dhh_t: the dh_{t-1} share, then dx_t
  T* valid = dHin + B * Nb;    // [4Hp]
  T* dpeep = dparams;          // [3Hp]
  T* dln_hh_w = dpeep + 3 * Hp, *dln_hh_b = dln_hh_w + G4, *dln_c_w = dln_hh_b + G4, *dln_c_b = dln_c_w + Hp;
  T* dln_ih_w = dln_c_b + Hp, *dln_ih_b = dln_ih_w + G4, *dbias = dln_ih_b + G4;
  T* dUs = valid + G4;         // (nb, GW) dxg_t = d(W_ih x_t) (ln_in)
  T* dXs = dUs + B * G4;       // (nb, Ip) dx_t (ln_in with dx)
  T* Xih = dXs + B * d.Ip;     // (nb, GW) x̂_ih recomputed from W_ih x_t (ln_in without a stored x̂_ih)
  T* Dense = Xih + B * G4;     // [GW] one row of da, dense (ln_in)
  T* valid_dense = Dense + G4; // [GW] 1 on the 4H real lanes of a dense row
  T* xhat_c = valid_dense + G4; // [Hp] x̂_c of the current row, recomputed (layer norm)
  T* Grow = xhat_c + Hp;       // [4Hp] i, f, g, o of the current row, recomputed (ln_in)
  T* Arow = Grow + G4;         // [GW] a = γ_hh x̂_hh + γ_ih x̂_ih + b of the current row (ln_in)
  T* Apad = Arow + G4;         // [4Hp] a in the padded gate layout, zero on padding (ln_in)
  uint32_t* pairs = reinterpret_cast<uint32_t*>(Apad + G4);  // a GEMM's left operand in bfloat16 (bf16)
  const Operand<T> none{0, nullptr, 0};
  for (long j = 0; j < G4; ++j) Apad[j] = 0;
  fill_gate_lanes(valid, H, Hp);
  for (long j = 0; j < G4; ++j) valid_dense[j] = j < 4 * H ? T(1) : T(0);
  for (long j = 0; j < G4; ++j) Dense[j] = 0;
  if (ln_in)
    for (long j = 0; j < d.I * GW; ++j) dw_ih[j] = 0;
  for (int k = 0; k < nb; ++k) {
    const long b = b0 + k;
    for (long j = 0; j < Rp; ++j) dH[k * Rp + j] = j < R && w.dh_T ? w.dh_T[b * R + j] : T(0);
    for (long j = 0; j < Hp; ++j) dC[k * Hp + j] = j < H && w.dc_T ? w.dc_T[b * H + j] : T(0);
  }
  auto live = [&](long t, long b) { return !d.lengths || t < f.len[b]; };
  auto zrow = [&](long t, long b) { return d.zoneout_const ? 0L : t * B + b; };  // row of zh, zc

  for (long t = d.T - 1; t >= 0; --t) {
    // dh = dy_t + dh_t;  dh̃ = (1 - z^h) dh
    T* dht_rows = d.projection ? w.dht + (t * B + b0) * Rp : dR;
    const long ld_dht = d.projection ? Rp : Hp;
    for (int k = 0; k < nb; ++k) {
      const long b = b0 + k;
      T* dht = dht_rows + k * ld_dht;
      if (!live(t, b)) {
        for (long j = 0; j < Rp; ++j) dht[j] = 0;
        continue;
      }
      T* dh = dH + k * Rp;
      if (w.dy)
        vadd<T>(dh, w.dy + (t * B + b) * R, R);
      for (long j = 0; j < Rp; j += V) {
        vec_t<T> g = vload(dh + j);
        if (d.zoneout_h) {
          const vec_t<T> z = vload(f.zh + zrow(t, b) * Rp + j);
          vstore(dHz + k * Rp + j, z * g);
          g = (1 - z) * g;
        }
        vstore(dht + j, g);
      }
    }
    if (d.projection)  // dr = W_hrᵀ dh̃
      step_gemm<T>(d, nb, int(Hp), none, int(R), dht_rows, Rp, w.w_hr, dR, Hp, false, pairs);

    if (ln_in && !f.xhat_ih) {  // x̂_ih = (W_ih x_t - μ) / σ again, from the stored μ and 1/σ
      step_gemm<T>(d, nb, int(GW), none, int(d.I), f.x + (t * B + b0) * d.Ip, d.Ip, f.w_ih_t, Xih, GW, false, pairs);
      for (int k = 0; k < nb; ++k) {
        const long row = t * B + b0 + k;
        const T mean = f.mean_ih[row], rstd = f.rstd_ih[row];
        for (long j = 0; j < GW; j += V) vstore(Xih + k * GW + j, (vload(Xih + k * GW + j) - mean) * rstd);
      }
    }
    for (int k = 0; k < nb; ++k) {
      const long b = b0 + k, row = t * B + b;
      T* dhh = w.dhh + row * 4 * H;  // the dxg row itself without layer norm
      T* da = dA + k * G4;
      if (t > 0) {  // this row's saved state of step t-1, which the forward wrote long ago: a step ahead
        const long prev = row - B;
        if (ln_in) prefetch_row(f.xhat_hh + prev * GW, GW, false);
        if (f.gates) prefetch_row(f.gates + prev * G4, G4, false);
        prefetch_row(f.th + prev * Hp, Hp, false);
        prefetch_row(f.cs + (t - 1) * B * Hp + b * Hp, Hp, false);
        prefetch_row(w.dhh + prev * 4 * H, 4 * H, true);
      }
      if (!live(t, b)) {
        if (ln_in)
          for (long j = 0; j < GW; ++j) dUs[k * GW + j] = 0;
        else
          for (long j = 0; j < 4 * H; ++j) w.dxg[row * 4 * H + j] = 0;
        if (d.layer_norm)
          for (long j = 0; j < 4 * H; ++j) dhh[j] = 0;
        continue;
      }
      const T* cp = f.cs + t * B * Hp + b * Hp;
      const T* ct = d.zoneout_c ? f.ctil + row * Hp : f.cs + (t + 1) * B * Hp + b * Hp;
      const T* gate = f.gates + row * G4;
      if (ln_in && !f.gates) {  // the gates again, as the forward computed them: a from both norms'
                                // outputs, then σ, tanh
        const T* x1 = f.xhat_hh + row * GW;
        const T* x2 = f.xhat_ih ? f.xhat_ih + row * GW : Xih + k * GW;
        for (long j = 0; j < GW; j += V)
          vstore(Arow + j, vload(x1 + j) * vload(f.ln_hh_w + j) + vload(x2 + j) * vload(f.ln_ih_w + j) +
                               vload(f.bias + j));
        for (int q = 0; q < 4; ++q) vcopy<T>(Apad + q * Hp, Arow + q * H, H);
        for (long j = 0; j < Hp; j += V) {  // lstm_forward.h's gate functions
          vec_t<T> i, fg, g;
          input_gates<T>(d, Apad, f.peep, j, vload(cp + j), &i, &fg, &g);
          vstore(Grow + j, i);
          vstore(Grow + Hp + j, fg);
          vstore(Grow + 2 * Hp + j, g);
          vstore(Grow + 3 * Hp + j, output_gate<T>(d, Apad, f.peep, j, vload(ct + j)));
        }
        gate = Grow;
      }
      T* dc = dC + k * Hp;
      T* dchat = dChat + k * Hp;
      for (long j = 0; j < Hp; j += V) {
        const vec_t<T> o = vload(gate + 3 * Hp + j), th = vload(f.th + row * Hp + j), dr = vload(dR + k * Hp + j);
        const vec_t<T> d_o = dr * th;
        vstore(dchat + j, dr * o * (1 - th * th));     // dĉ
        vstore(da + 3 * Hp + j, d_o * o * (1 - o));    // da_o
      }
      if (d.layer_norm) {  // x̂_c = (c̃ - μ) / σ again, as the forward computed it
        const T mean = f.mean_c[row], rstd = f.rstd_c[row];
        for (long j = 0; j < Hp; j += V) vstore(xhat_c + j, vmasked<T>((vload(ct + j) - mean) * rstd, vload(valid + j)));
        layer_norm_backward_row<T>(dchat, Hp, H, valid, f.ln_c_w, xhat_c, rstd, dln_c_w, dln_c_b);
      }
      for (long j = 0; j < Hp; j += V) {
        const vec_t<T> i = vload(gate + j), fg = vload(gate + Hp + j), g = vload(gate + 2 * Hp + j);
        const vec_t<T> c_prev = vload(cp + j), da_o = vload(da + 3 * Hp + j);
        vec_t<T> dct = vload(dchat + j), dc_prev = vsplat<T>(0);
        const vec_t<T> dcn = vload(dc + j);
        if (d.zoneout_c) {
          const vec_t<T> z = vload(f.zc + zrow(t, b) * Hp + j);
          dct += (1 - z) * dcn;
          dc_prev = z * dcn;
        } else {
          dct += dcn;
        }
        if (d.peephole) {
          dct += vload(f.peep + 2 * Hp + j) * da_o;
          vstore(dpeep + 2 * Hp + j, vload(dpeep + 2 * Hp + j) + da_o * vload(ct + j));
        }
        vec_t<T> di = dct * g;
        const vec_t<T> dg = dct * i;
        const vec_t<T> df = dct * c_prev;
        if (d.coupled) di -= df;
        const vec_t<T> da_i = di * i * (1 - i);
        const vec_t<T> da_f = d.coupled ? vsplat<T>(0) : df * fg * (1 - fg);
        const vec_t<T> da_g = dg * (1 - g * g);
        dc_prev += dct * fg;
        if (d.peephole) {
          dc_prev += vload(f.peep + j) * da_i + vload(f.peep + Hp + j) * da_f;
          vstore(dpeep + j, vload(dpeep + j) + da_i * c_prev);
          vstore(dpeep + Hp + j, vload(dpeep + Hp + j) + da_f * c_prev);
        }
        vstore(da + j, da_i);
        vstore(da + Hp + j, da_f);
        vstore(da + 2 * Hp + j, da_g);
        vstore(dc + j, dc_prev);
      }
      if (!ln_in)
        for (int q = 0; q < 4; ++q) vcopy<T>(w.dxg + row * 4 * H + q * H, da + q * Hp, H);
      if (ln_in) {  // dxg = LN_ihᵀ(da), dhh = LN_hhᵀ(da) over a dense copy of da (its lanes past 4H zero);
                    // Σ da is the gradient of b and of both β
        for (int q = 0; q < 4; ++q) vcopy<T>(Dense + q * H, da + q * Hp, H);
        const T* xhat_ih = f.xhat_ih ? f.xhat_ih + row * GW : Xih + k * GW;
        layer_norm_pair_backward_row<T>(Dense, dUs + k * GW, GW, 4 * H, valid_dense, f.ln_hh_w, f.ln_ih_w,
                                        f.xhat_hh + row * GW, xhat_ih, f.rstd_hh[row], f.rstd_ih[row], dln_hh_w,
                                        dln_ih_w, dbias);
        vcopy<T>(dhh, Dense, 4 * H);
      } else if (d.layer_norm) {
        layer_norm_backward_row<T>(da, G4, 4 * H, valid, f.ln_hh_w, f.xhat_hh + row * G4, f.rstd_hh[row],
                                   dln_hh_w, dln_hh_b);
        for (int q = 0; q < 4; ++q) vcopy<T>(dhh + q * H, da + q * Hp, H);
      }
    }
    // dh_{t-1} = m ⊙ (W_hhᵀ dhh_t) + z^h dh, over the 4H real rows of W_hh (and dx_t = W_ihᵀ dxg_t)
    step_gemm<T>(d, nb, int(Nb), none, int(4 * H), w.dhh + (t * B + b0) * 4 * H, 4 * H, w.w_hh, dHin, Nb, false, pairs);
    if (d.dx && !ln_in)
      for (int k = 0; k < nb; ++k) vcopy<T>(w.dx + (t * B + b0 + k) * d.I, dHin + k * Nb + Rp, d.I);
    if (ln_in) {  // dW_ihᵀ += x_tᵀ dxg_t for this thread's rows; dx_t = W_ihᵀ dxg_t (dxg differs from dhh)
      input_weight_grad_step<T>(d, f.x + (t * B + b0) * d.Ip, nb, dUs, GW, dw_ih, pairs);
      if (d.dx) {
        step_gemm<T>(d, nb, int(d.Ip), none, int(GW), dUs, GW, w.w_ih, dXs, d.Ip, false, pairs);
        for (int k = 0; k < nb; ++k) vcopy<T>(w.dx + (t * B + b0 + k) * d.I, dXs + k * d.Ip, d.I);
      }
    }
    for (int k = 0; k < nb; ++k) {
      const long b = b0 + k;
      if (!live(t, b)) continue;
      for (long j = 0; j < Rp; j += V) {
        vec_t<T> g = vload(dHin + k * Nb + j);
        if (d.dropout) g *= vload(f.mask + b * Rp + j);
        if (d.zoneout_h) g += vload(dHz + k * Rp + j);
        vstore(dH + k * Rp + j, g);
      }
    }
  }
  for (int k = 0; k < nb; ++k) {
    const long b = b0 + k;
    vcopy<T>(w.dh0 + b * R, dH + k * Rp, R);
    vcopy<T>(w.dc0 + b * H, dC + k * Hp, H);
  }
}
