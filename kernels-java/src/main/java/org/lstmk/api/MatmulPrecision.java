package org.lstmk.api;

/**
 * The arithmetic a backend may use for a layer's large matrix products: the input projection {@code x·W_ihᵀ} and,
 * in training, {@code dx} and the weight gradients. The recurrent products ({@code h_{t-1}·W_hhᵀ} and its gradient)
 * and the cell always run in float32: their errors would compound over the steps. A backend without the hardware
 * for a reduced precision computes in float32 (at least as accurate); {@code lstmk info} says which backends use it.
 */
public enum MatmulPrecision {
    /** Float32 products and sums: the reference's tolerance ({@code verify.Tolerance#forCall}). The default. */
    FP32,
    /**
     * TensorFloat-32 on NVIDIA tensor cores (as PyTorch's {@code allow_tf32}, cuDNN's {@code CUDNN_TENSOR_OP_MATH}):
     * the products' inputs rounded to 10 mantissa bits (relative error up to 2⁻¹¹), sums in float32. Results agree
     * with the reference to about 1e-3 of the output's range ({@code verify.Tolerance#forPrecision}) on ordinary data
     * (|x| ≲ 1), not to float32's; the error of a pre-activation grows with the inputs (about 2⁻¹¹·Σ|x·w|), so with
     * large inputs gates near their transition move by percents: use FP32 there.
     */
    TF32,
    /**
     * bfloat16 products on NVIDIA tensor cores (as PyTorch's autocast to bfloat16 for the matmuls): inputs rounded to
     * 8 mantissa bits (relative error up to 2⁻⁹), sums in float32; about 4× TF32's error, agreeing with the reference
     * to about 1e-2 of the output's range on ordinary data ({@code verify.Tolerance#forPrecision}).
     */
    BF16
}
