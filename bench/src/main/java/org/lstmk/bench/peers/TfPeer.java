package org.lstmk.bench.peers;

import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.nn.BlockLSTM;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;

/**
 * TensorFlow Java (graph mode): the fused {@code BlockLSTM} op (in TensorFlow Java 1.x the class builds
 * {@code BlockLSTMV2}: gates i, f, c, o as PyTorch's, no forget bias, no cell clip), {@code x} fed through a
 * placeholder each call, the weights as constants: {@code w [I+H, 4H]} (the transpose of {@code [wIh | wHh]}),
 * bias {@code bIh + bHh}. Session: intra-op threads = {@code threads}, inter-op 1.
 */
public final class TfPeer implements Peer {
    @Override
    public String name() {
        return "tensorflow";
    }

    /** {@code w [I+H, 4H]}: row k is input k (x then h), column j is PyTorch's gate row j. */
    static float[] kernel(Problem p) {
        int H = p.hidden(), I = p.input(), G = 4 * H;
        float[] wi = p.wIh(), wh = p.wHh();
        float[] w = new float[(I + H) * G];
        for (int j = 0; j < G; j++) {
            for (int k = 0; k < I; k++) w[k * G + j] = wi[j * I + k];
            for (int k = 0; k < H; k++) w[(I + k) * G + j] = wh[j * H + k];
        }
        return w;
    }

    static float[] bias(Problem p) {
        int H = p.hidden();
        float[] b = new float[4 * H];
        for (int j = 0; j < 4 * H; j++) b[j] = p.bIh()[j] + p.bHh()[j];
        return b;
    }

    @Override
    public Runner open(Problem p, int threads) {
        int T = p.steps(), B = p.batch(), H = p.hidden(), I = p.input();
        Graph g = new Graph();
        Ops tf = Ops.create(g);
        Placeholder<TFloat32> x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(T, B, I)));
        var zerosBH = tf.constant(Shape.of(B, H), DataBuffers.ofFloats((long) B * H));
        var zerosH = tf.constant(Shape.of(H), DataBuffers.ofFloats(H));
        BlockLSTM<TFloat32> lstm = tf.nn.blockLSTM(tf.constant((long) T), x, zerosBH, zerosBH,
                tf.constant(Shape.of(I + H, 4L * H), DataBuffers.of(kernel(p), true, false)), zerosH, zerosH, zerosH,
                tf.constant(Shape.of(4L * H), DataBuffers.of(bias(p), true, false)), BlockLSTM.usePeephole(false), BlockLSTM.cellClip(0f));
        ConfigProto cfg = ConfigProto.newBuilder().setIntraOpParallelismThreads(threads)
                .setInterOpParallelismThreads(1).build();
        Session s = new Session(g, cfg);
        TFloat32 xt = TFloat32.tensorOf(Shape.of(T, B, I), DataBuffers.of(p.x(), true, false));
        return new Runner() {
            @Override
            public void run() {
                try (Result r = s.runner().feed(x, xt).fetch(lstm.h()).run()) {
                    // the output is freed with the result
                }
            }

            @Override
            public float[] output() {
                try (Result r = s.runner().feed(x, xt).fetch(lstm.h()).run()) {
                    float[] a = new float[T * B * H];
                    ((TFloat32) r.get(0)).copyTo(DataBuffers.of(a, false, false));
                    return a;
                }
            }

            @Override
            public void close() {
                xt.close();
                s.close();
                g.close();
            }
        };
    }
}
