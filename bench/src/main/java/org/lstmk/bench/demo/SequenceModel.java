package org.lstmk.bench.demo;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.StackGradients;
import org.lstmk.api.StackWeights;
import org.lstmk.api.TrainingWorkspace;

/**
 * A (stacked, unidirectional) LSTM with a {@link DenseHead} on its last {@code K} steps, trained with MSE and
 * {@link Adam}. The parameters live in {@code float[]}s that the library reads through {@link LstmWeights} views;
 * {@link PackedWeights} are immutable, so every update re-packs them ({@link Lstm#pack}) and closes the old ones.
 * The backward pass writes the gradients straight into the {@code float[]}s ({@link GradientMode#OVERWRITE}).
 */
public final class SequenceModel implements AutoCloseable {
    /** What one {@link #trainStep} did and how long its parts took, in nanoseconds. */
    public record StepStats(double loss, double gradNorm, long forwardNs, long backwardNs, long headNs, long updateNs,
                            long packNs) {}

    private final LstmConfig config;
    private final Lstm lstm;
    private final int steps, maxBatch, outSteps, hidden, out;
    private final float[][] wIh, wHh, bIh, bHh, dWih, dWhh, dbIh, dbHh;
    private final StackWeights weights;
    private final StackGradients grads;
    private final DenseHead head;
    private final List<float[]> params = new ArrayList<>(), gradList = new ArrayList<>();
    private final Adam adam;
    private final double clip;
    private final TrainingWorkspace ws;
    private final float[] y, dy, pred, dPred;
    private PackedWeights packed;

    /**
     * @param backend  a backend name, or null for the dispatcher's choice
     * @param outSteps the number of last steps the head reads ({@code 1} or {@code steps})
     * @param clip     the global gradient norm above which gradients are scaled down
     */
    public SequenceModel(String backend, int input, int hidden, int layers, int output, int steps, int outSteps,
                         int maxBatch, double lr, double clip, long seed) {
        this.config = LstmConfig.builder(input, hidden).layers(layers).build();
        Lstm.Builder b = Lstm.builder(config);
        if (backend != null) b.backend(backend);
        this.lstm = b.build();
        this.steps = steps;
        this.maxBatch = maxBatch;
        this.outSteps = outSteps;
        this.hidden = hidden;
        this.out = output;
        this.clip = clip;
        SplittableRandom rnd = new SplittableRandom(seed);
        wIh = new float[layers][]; wHh = new float[layers][]; bIh = new float[layers][]; bHh = new float[layers][];
        dWih = new float[layers][]; dWhh = new float[layers][]; dbIh = new float[layers][]; dbHh = new float[layers][];
        LstmWeights[] lw = new LstmWeights[layers];
        LstmGradients[] lg = new LstmGradients[layers];
        double k = 1 / Math.sqrt(hidden);   // PyTorch's nn.LSTM initialisation
        for (int l = 0; l < layers; l++) {
            int in = config.layerInputSize(l);
            wIh[l] = uniform(4 * hidden * in, k, rnd);
            wHh[l] = uniform(4 * hidden * hidden, k, rnd);
            bIh[l] = uniform(4 * hidden, k, rnd);
            bHh[l] = uniform(4 * hidden, k, rnd);
            // Forget-gate bias 1 (Gers et al. 2000; Jozefowicz et al. 2015): start by remembering.
            for (int j = hidden; j < 2 * hidden; j++) bIh[l][j] += 1f;
            dWih[l] = new float[wIh[l].length]; dWhh[l] = new float[wHh[l].length];
            dbIh[l] = new float[bIh[l].length]; dbHh[l] = new float[bHh[l].length];
            lw[l] = LstmWeights.of(wIh[l], wHh[l], bIh[l], bHh[l]);
            lg[l] = LstmGradients.of(dWih[l], dWhh[l], dbIh[l], dbHh[l]);
            params.addAll(List.of(wIh[l], wHh[l], bIh[l], bHh[l]));
            gradList.addAll(List.of(dWih[l], dWhh[l], dbIh[l], dbHh[l]));
        }
        weights = StackWeights.of(config, lw);
        grads = StackGradients.of(config, lg);
        head = new DenseHead(hidden, output, rnd);
        params.addAll(List.of(head.weight(), head.bias()));
        gradList.addAll(List.of(head.weightGrad(), head.biasGrad()));
        adam = new Adam(params, lr);
        ws = lstm.newWorkspace(steps, maxBatch);
        y = new float[steps * maxBatch * hidden];
        dy = new float[steps * maxBatch * hidden];
        pred = new float[outSteps * maxBatch * output];
        dPred = new float[outSteps * maxBatch * output];
        packed = lstm.pack(weights);
    }

    private static float[] uniform(int n, double k, SplittableRandom rnd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-k, k);
        return a;
    }

    /** The engine's backend and why it was chosen. */
    public String backendDescription() { return lstm.selection().describe(); }

    public String backendName() { return lstm.backendName(); }

    public LstmConfig config() { return config; }

    /** The LSTM's weights: views of the arrays the optimizer updates in place (current after every step). */
    public StackWeights weights() { return weights; }

    public Adam optimizer() { return adam; }

    /** The number of trainable parameters. */
    public long parameterCount() {
        long n = 0;
        for (float[] p : params) n += p.length;
        return n;
    }

    /** One Adam step on a batch: forward, MSE on the last {@code K} steps, backward, clip, update, re-pack. */
    public StepStats trainStep(Task.Batch batch) {
        int bsz = batch.batch();
        if (bsz > maxBatch) throw new IllegalArgumentException("batch: " + bsz + " > " + maxBatch);
        int headRows = outSteps * bsz, hOff = (steps - outSteps) * bsz * hidden, n = headRows * out;
        long t0 = System.nanoTime();
        lstm.forwardTraining(packed, steps, bsz, MemorySegment.ofArray(batch.x()), null, MemorySegment.ofArray(y),
                null, ws);
        long t1 = System.nanoTime();
        head.forward(y, hOff, headRows, pred);
        double loss = Mse.lossAndGrad(pred, batch.target(), n, dPred);
        java.util.Arrays.fill(dy, 0, hOff, 0f);   // no loss on the steps before the head's
        head.backward(y, hOff, headRows, dPred, dy, hOff);
        long t2 = System.nanoTime();
        lstm.backward(packed, ws, MemorySegment.ofArray(batch.x()), MemorySegment.ofArray(dy), null, null, null,
                grads, GradientMode.OVERWRITE);
        long t3 = System.nanoTime();
        double norm = Adam.clipGlobalNorm(gradList, clip);
        adam.step(gradList);
        long t4 = System.nanoTime();
        PackedWeights old = packed;
        packed = lstm.pack(weights);
        old.close();
        long t5 = System.nanoTime();
        return new StepStats(loss, norm, t1 - t0, t3 - t2, t2 - t1, t4 - t3, t5 - t4);
    }

    /** Predictions {@code [K, B, O]} for the batch's last {@code K} steps (inference forward). */
    public float[] predict(Task.Batch batch) {
        int bsz = batch.batch(), headRows = outSteps * bsz;
        float[] ys = new float[steps * bsz * hidden], p = new float[headRows * out];
        lstm.forward(packed, steps, bsz, MemorySegment.ofArray(batch.x()), null, MemorySegment.ofArray(ys), null);
        head.forward(ys, (steps - outSteps) * bsz * hidden, headRows, p);
        return p;
    }

    /**
     * For one sequence of a 1-input, 1-output next-value model: the one-step predictions over {@code primer}
     * ({@code out[t]} predicts the value at {@code t + 1}, {@code t < P}), then {@code extra} more steps run freely,
     * each prediction fed back as the next input ({@code out[P + g]}). Inference calls only: the whole primer in one
     * call, then one step per call, carrying the state {@code (h, c) [L, 1, H]} across calls.
     */
    public float[] generate(float[] primer, int extra) {
        if (config.inputSize() != 1 || out != 1) throw new IllegalStateException("generate: needs I = O = 1");
        int p = primer.length, layers = config.layers();
        float[] result = new float[p + extra];
        float[] ys = new float[p * hidden];
        float[][] h = {new float[layers * hidden], new float[layers * hidden]};
        float[][] c = {new float[layers * hidden], new float[layers * hidden]};
        lstm.forward(packed, p, 1, MemorySegment.ofArray(primer), null, MemorySegment.ofArray(ys),
                org.lstmk.api.LstmState.of(h[0], c[0]));
        head.forward(ys, 0, p, result);
        float[] x = new float[1], y1 = new float[hidden], o = new float[1];
        for (int g = 0; g < extra; g++) {
            x[0] = result[p + g - 1];
            int cur = g & 1, next = cur ^ 1;
            lstm.forward(packed, 1, 1, MemorySegment.ofArray(x), org.lstmk.api.LstmState.of(h[cur], c[cur]),
                    MemorySegment.ofArray(y1), org.lstmk.api.LstmState.of(h[next], c[next]));
            head.forward(y1, 0, 1, o);
            result[p + g] = o[0];
        }
        return result;
    }

    /** The MSE of {@link #predict} against the batch's targets. */
    public double mse(Task.Batch batch) {
        float[] p = predict(batch);
        return Mse.loss(p, batch.target(), p.length);
    }

    @Override public void close() {
        packed.close();
        ws.close();
        lstm.close();
    }
}
