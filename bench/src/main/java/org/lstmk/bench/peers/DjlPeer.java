package org.lstmk.bench.peers;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.recurrent.LSTM;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;

/**
 * DJL with its PyTorch engine: {@code ai.djl.nn.recurrent.LSTM} (time-major, one layer, biases), which calls
 * libtorch's {@code lstm}; libtorch from the {@code ai.djl.pytorch:pytorch-native-cpu} Maven artifact, offline (no
 * download at run time). PyTorch's layout and gate order are ours, so the weights are used as they are. Threads:
 * {@code ai.djl.pytorch.num_threads} = {@code threads} and 1 inter-op thread, set before the engine starts (the
 * first open wins: one engine per JVM).
 */
public final class DjlPeer implements Peer {
    @Override
    public String name() {
        return "djl-pytorch";
    }

    static synchronized Engine engine(int threads) {
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
        System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        System.setProperty("PYTORCH_FLAVOR", "cpu");
        return Engine.getEngine("PyTorch");
    }

    @Override
    public Runner open(Problem p, int threads) {
        Engine engine = engine(threads);
        NDManager m = engine.newBaseManager();
        int T = p.steps(), B = p.batch(), H = p.hidden();
        LSTM lstm = LSTM.builder().setStateSize(H).setNumLayers(1).optBatchFirst(false).optHasBiases(true)
                .optReturnState(false).build();
        Shape in = new Shape(T, B, p.input());
        lstm.initialize(m, DataType.FLOAT32, in);
        for (Pair<String, Parameter> e : lstm.getParameters()) {
            String n = e.getKey();
            float[] v = n.contains("i2h") ? (n.contains("WEIGHT") ? p.wIh() : p.bIh())
                    : n.contains("h2h") ? (n.contains("WEIGHT") ? p.wHh() : p.bHh()) : null;
            if (v == null) throw new IllegalStateException("DJL LSTM parameter not understood: " + n);
            NDArray a = e.getValue().getArray();
            if (a.size() != v.length) throw new IllegalStateException(n + ": size " + a.size() + ", ours " + v.length);
            a.set(v);
        }
        NDArray x = m.create(p.x(), in);
        NDList xs = new NDList(x);
        ParameterStore ps = new ParameterStore(m, false);
        return new Runner() {
            @Override
            public void run() {
                try (NDList out = lstm.forward(ps, xs, false)) {
                    // the output is freed with the list
                }
            }

            @Override
            public float[] output() {
                try (NDList out = lstm.forward(ps, xs, false)) {
                    return out.get(0).toFloatArray();
                }
            }

            @Override
            public void close() {
                m.close();
            }
        };
    }
}
