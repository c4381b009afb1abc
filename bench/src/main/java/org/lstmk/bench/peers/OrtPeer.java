package org.lstmk.bench.peers;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Map;
import org.lstmk.models.onnx.OnnxProto.AttributeProto;
import org.lstmk.models.onnx.OnnxProto.GraphProto;
import org.lstmk.models.onnx.OnnxProto.ModelProto;
import org.lstmk.models.onnx.OnnxProto.NodeProto;
import org.lstmk.models.onnx.OnnxProto.OperatorSetIdProto;
import org.lstmk.models.onnx.OnnxProto.TensorProto;
import org.lstmk.models.onnx.OnnxProto.TensorShapeProto;
import org.lstmk.models.onnx.OnnxProto.TypeProto;
import org.lstmk.models.onnx.OnnxProto.ValueInfoProto;

/**
 * ONNX Runtime Java, CPU execution provider: its {@code LSTM} operator on a one-node model built here (weights as
 * initializers: {@code W [1,4H,I]}, {@code R [1,4H,H]}, {@code B [1,8H] = [Wb, Rb]}, ONNX gate order i, o, f, c),
 * intra-op threads = {@code threads}, inter-op 1, sequential execution.
 */
public final class OrtPeer implements Peer {
    /** PyTorch i, f, g, o (0..3) to ONNX i, o, f, c. */
    static final int[] IOFC = {0, 3, 1, 2};

    @Override
    public String name() {
        return "onnxruntime";
    }

    /** The one-node ONNX model (opset 14) of {@code p}'s LSTM: input X [T,B,I], output Y [T,1,B,H]. */
    static byte[] model(Problem p) {
        int H = p.hidden(), I = p.input();
        float[] bias = new float[8 * H];
        System.arraycopy(Problem.regate(p.bIh(), H, IOFC), 0, bias, 0, 4 * H);
        System.arraycopy(Problem.regate(p.bHh(), H, IOFC), 0, bias, 4 * H, 4 * H);
        NodeProto node = NodeProto.newBuilder().setOpType("LSTM").setName("lstm")
                .addInput("X").addInput("W").addInput("R").addInput("B").addOutput("Y")
                .addAttribute(AttributeProto.newBuilder().setName("hidden_size").setType(AttributeProto.AttributeType.INT).setI(H))
                .build();
        GraphProto g = GraphProto.newBuilder().setName("lstm").addNode(node)
                .addInitializer(tensor("W", Problem.regate(p.wIh(), H, IOFC), 1, 4L * H, I))
                .addInitializer(tensor("R", Problem.regate(p.wHh(), H, IOFC), 1, 4L * H, H))
                .addInitializer(tensor("B", bias, 1, 8L * H))
                .addInput(info("X", p.steps(), p.batch(), I))
                .addOutput(info("Y", p.steps(), 1, p.batch(), H))
                .build();
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("lstmk-bench")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(14))
                .setGraph(g).build().toByteArray();
    }

    private static TensorProto tensor(String name, float[] v, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE);
        for (long d : dims) t.addDims(d);
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return t.setRawData(com.google.protobuf.ByteString.copyFrom(b.array())).build();
    }

    private static ValueInfoProto info(String name, long... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (long d : dims) s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(s))).build();
    }

    @Override
    public Runner open(Problem p, int threads) throws Throwable {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        o.setIntraOpNumThreads(threads);
        o.setInterOpNumThreads(1);
        o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
        OrtSession session = env.createSession(model(p), o);
        FloatBuffer xb = ByteBuffer.allocateDirect(p.x().length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        xb.put(p.x()).rewind();
        OnnxTensor x = OnnxTensor.createTensor(env, xb, new long[] {p.steps(), p.batch(), p.input()});
        Map<String, OnnxTensor> in = Map.of("X", x);
        return new Runner() {
            @Override
            public void run() throws Throwable {
                try (OrtSession.Result r = session.run(in)) {
                    // the output is freed with the result
                }
            }

            @Override
            public float[] output() throws Throwable {
                try (OrtSession.Result r = session.run(in)) {
                    FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
                    float[] a = new float[fb.remaining()];
                    fb.get(a);
                    return a;
                }
            }

            @Override
            public void close() throws Exception {
                x.close();
                session.close();
                o.close();
            }
        };
    }
}
