package org.lstmk.bench.peers;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Deeplearning4j: a {@code MultiLayerNetwork} of one {@code LSTM} layer (nd4j-native CPU backend, OpenBLAS), f32,
 * input laid out as DL4J wants it ({@code [B, I, T]}, converted once outside the timing), weights {@code W [I, 4H]},
 * {@code RW [H, 4H]}, {@code b [1, 4H]} in DL4J's gate order. Threads: {@code OMP_NUM_THREADS} (launcher) and
 * nd4j's {@code Environment.setMaxMasterThreads}.
 */
public final class Dl4jPeer implements Peer {
    /**
     * DL4J's column blocks are (block input g, forget f, output o, input gate i): block k takes PyTorch's gate
     * {@code ORDER[k]} (i, f, g, o = 0..3).
     */
    static final int[] ORDER = {2, 1, 3, 0};

    @Override
    public String name() {
        return "dl4j";
    }

    static float[] transposedRegated(float[] w, int H, int n) {
        float[] r = Problem.regate(w, H, ORDER); // [4H, n]
        float[] t = new float[r.length];
        int G = 4 * H;
        for (int j = 0; j < G; j++) for (int k = 0; k < n; k++) t[k * G + j] = r[j * n + k];
        return t;
    }

    @Override
    public Runner open(Problem p, int threads) {
        Nd4j.getEnvironment().setMaxMasterThreads(threads);
        Nd4j.getEnvironment().setMaxThreads(threads);
        int T = p.steps(), B = p.batch(), H = p.hidden(), I = p.input(), G = 4 * H;
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT).list()
                .layer(new LSTM.Builder().nIn(I).nOut(H).activation(Activation.TANH)
                        .gateActivationFunction(Activation.SIGMOID).dataFormat(RNNFormat.NCW).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        net.setParam("0_W", Nd4j.create(transposedRegated(p.wIh(), H, I), new long[] {I, G}, 'c'));
        net.setParam("0_RW", Nd4j.create(transposedRegated(p.wHh(), H, H), new long[] {H, G}, 'c'));
        float[] b = new float[G];
        for (int j = 0; j < G; j++) b[j] = p.bIh()[j] + p.bHh()[j];
        net.setParam("0_b", Nd4j.create(Problem.regate(b, H, ORDER), new long[] {1, G}, 'c'));
        float[] xb = new float[B * I * T]; // [B, I, T]
        for (int t = 0; t < T; t++)
            for (int n = 0; n < B; n++)
                for (int i = 0; i < I; i++) xb[(n * I + i) * T + t] = p.x()[(t * B + n) * I + i];
        INDArray x = Nd4j.create(xb, new long[] {B, I, T}, 'c');
        return new Runner() {
            INDArray y;

            @Override
            public void run() {
                y = net.output(x);
            }

            @Override
            public float[] output() {
                INDArray yc = y.dup('c'); // [B, H, T]
                float[] a = yc.data().asFloat(), r = new float[T * B * H];
                for (int t = 0; t < T; t++)
                    for (int n = 0; n < B; n++)
                        for (int h = 0; h < H; h++) r[(t * B + n) * H + h] = a[(n * H + h) * T + t];
                return r;
            }

            @Override
            public void close() {
                net.close();
            }
        };
    }
}
