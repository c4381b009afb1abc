package org.lstmk.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.models.onnx.OnnxProto.AttributeProto;
import org.lstmk.models.onnx.OnnxProto.GraphProto;
import org.lstmk.models.onnx.OnnxProto.ModelProto;
import org.lstmk.models.onnx.OnnxProto.NodeProto;
import org.lstmk.models.onnx.OnnxProto.StringStringEntryProto;
import org.lstmk.models.onnx.OnnxProto.TensorProto;

/**
 * The ONNX fixtures (src/test/fixtures/make_onnx_fixtures.py), imported, reproduce onnxruntime's output on the
 * reference and SIMD backends; broken files and unsupported LSTMs are refused with a message naming what is wrong.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class OnnxImporterTest {
    /** f32 end to end against onnxruntime's f32 (the reference computes in double). */
    static final double TOLERANCE = 1e-5;
    static final String[] NAMES = {"peep_clip", "bidi", "external", "f16", "torch2", "torch_bi2"};

    @TempDir Path tmp;

    static Path dir() { return Fixtures.dir("onnx"); }

    static Path file(String name) { return dir().resolve(name); }

    static JsonObject info(String name) throws IOException { return Fixtures.info("onnx", name); }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (String name : NAMES) {
            for (String backend : List.of("reference", "simd")) a.add(Arguments.of(name, backend));
        }
        return a.stream();
    }

    /** y, h_n, c_n of {@code m} on fixture {@code name}'s input, compared with onnxruntime's. */
    static double error(LstmModel m, String name, String backend) throws IOException {
        Npy.FloatArray x = Npy.readFloat32(file(name + ".x.npy"));
        boolean bm = m.config().layout() == Layout.BATCH_MAJOR;
        int t = bm ? x.dim(1) : x.dim(0), b = bm ? x.dim(0) : x.dim(1);
        Fixtures.Out got = Fixtures.forward(m, backend, x.data(), t, b, null);
        double e = Fixtures.relError(got.y(), Npy.readFloat32(file(name + ".y.npy")).data());
        e = Math.max(e, Fixtures.relError(got.h(), Npy.readFloat32(file(name + ".h_n.npy")).data()));
        return Math.max(e, Fixtures.relError(got.c(), Npy.readFloat32(file(name + ".c_n.npy")).data()));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void reproducesOnnxRuntime(String name, String backend) throws IOException {
        LstmModel m = Models.load(file(name + ".onnx"), null);
        double err = error(m, name, backend);
        assertTrue(err <= TOLERANCE, name + " on " + backend + ": relative error " + Fixtures.fmt(err) + " > " + TOLERANCE);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("names")
    void describesWhatItFound(String name) throws IOException {
        LstmModel m = OnnxImporter.load(file(name + ".onnx"));
        JsonObject info = info(name);
        LstmConfig c = m.config();
        assertEquals(info.get("input_size").getAsInt(), c.inputSize(), "input size");
        assertEquals(info.get("hidden_size").getAsInt(), c.hiddenSize(), "hidden size");
        assertEquals(info.get("layers").getAsInt(), c.layers(), "layers");
        assertEquals(info.get("bidirectional").getAsBoolean(), c.bidirectional(), "bidirectional");
        assertEquals(info.get("peepholes").getAsBoolean(), c.peepholes(), "peepholes");
        assertEquals(info.get("clip").getAsFloat(), c.cellClip(), "clip");
        assertEquals(info.get("batch_major").getAsBoolean() ? Layout.BATCH_MAJOR : Layout.TIME_MAJOR, c.layout());
        assertEquals(List.of(info.get("dtype").getAsString()), m.info().dtypes(), "dtype");
        assertEquals(info.get("bias").getAsBoolean(), m.info().bias(), "bias");
        int perNode = 3 + (c.peepholes() ? 1 : 0);
        assertEquals(perNode * c.layers(), m.info().tensors().size(), "tensors read: " + m.info().tensors());
        List<String> nodes = new ArrayList<>();
        info.get("nodes").getAsJsonArray().forEach(e -> nodes.add(e.getAsString()));
        assertEquals(nodes, OnnxImporter.lstmNodes(file(name + ".onnx")));
        String d = m.describe();
        assertTrue(d.startsWith(OnnxImporter.FORMAT), d);
        for (String n : nodes) assertTrue(d.contains("'" + n + "'"), d);
        assertTrue(d.contains("hidden " + c.hiddenSize()) && d.contains("input " + c.inputSize()), d);
    }

    static Stream<String> names() { return Stream.of(NAMES); }

    // ---- models rewritten through the generated protobuf classes ----

    static ModelProto proto(String name) throws IOException {
        return ModelProto.parseFrom(Files.readAllBytes(file(name + ".onnx")));
    }

    Path write(String fileName, ModelProto m) throws IOException {
        Path p = tmp.resolve(fileName);
        Files.write(p, m.toByteArray());
        return p;
    }

    static ModelProto editGraph(ModelProto m, UnaryOperator<GraphProto.Builder> edit) {
        return m.toBuilder().setGraph(edit.apply(m.getGraph().toBuilder())).build();
    }

    static ModelProto editLstm(ModelProto m, UnaryOperator<NodeProto.Builder> edit) {
        return editGraph(m, g -> {
            for (int i = 0; i < g.getNodeCount(); i++) {
                if (g.getNode(i).getOpType().equals("LSTM")) g.setNode(i, edit.apply(g.getNode(i).toBuilder()));
            }
            return g;
        });
    }

    static NodeProto.Builder setAttr(NodeProto.Builder n, AttributeProto a) {
        for (int i = 0; i < n.getAttributeCount(); i++) {
            if (n.getAttribute(i).getName().equals(a.getName())) return n.setAttribute(i, a);
        }
        return n.addAttribute(a);
    }

    static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    static AttributeProto stringAttr(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(v)).build();
    }

    /** Swaps the rows of ONNX gates g0 and g1 in the raw float tensor {@code name} of shape [1, 4H(, cols)]. */
    static ModelProto swapGates(ModelProto m, String name, int g0, int g1) {
        return editGraph(m, g -> {
            for (int i = 0; i < g.getInitializerCount(); i++) {
                TensorProto t = g.getInitializer(i);
                if (!t.getName().equals(name)) continue;
                float[] v = new float[t.getRawData().size() / 4];
                t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
                int block = v.length / (name.equals("B") ? 8 : 4);   // B holds [Wb, Rb]: swap in Wb
                float[] a = Arrays.copyOfRange(v, g0 * block, (g0 + 1) * block);
                System.arraycopy(v, g1 * block, v, g0 * block, block);
                System.arraycopy(a, 0, v, g1 * block, block);
                ByteBuffer bb = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                bb.asFloatBuffer().put(v);
                g.setInitializer(i, t.toBuilder().setRawData(ByteString.copyFrom(bb)));
            }
            return g;
        });
    }

    /** The fixture tells the gates apart: the converter's gate order is the only one that matches onnxruntime. */
    @Test
    void aSwappedGateFails() throws IOException {
        for (int[] s : new int[][] {{0, 1}, {1, 2}, {2, 3}, {0, 3}, {1, 3}, {0, 2}}) {
            for (String tensor : List.of("W", "B")) {
                ModelProto m = swapGates(proto("peep_clip"), tensor, s[0], s[1]);
                LstmModel swapped = OnnxImporter.load(write("swapped.onnx", m));
                double err = error(swapped, "peep_clip", "reference");
                assertTrue(err > 1e-2, "ONNX gates " + s[0] + "↔" + s[1] + " of " + tensor
                        + " swapped still match onnxruntime (error " + Fixtures.fmt(err) + ")");
            }
        }
        // and unswapped, the rewritten file still matches: the test's own rewriting is sound
        assertTrue(error(OnnxImporter.load(write("same.onnx", proto("peep_clip"))), "peep_clip", "reference") <= TOLERANCE);
    }

    private ModelFormatException refused(Path p, String... mentions) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> OnnxImporter.load(p));
        assertTrue(e.getMessage().contains(p.toString()), "names the file: " + e.getMessage());
        for (String s : mentions) assertTrue(e.getMessage().contains(s), "mentions " + s + ": " + e.getMessage());
        return e;
    }

    @Test
    void corruptAndTruncatedFilesAreRefused() throws IOException {
        byte[] all = Files.readAllBytes(file("peep_clip.onnx"));
        for (int cut : new int[] {all.length / 2, all.length - 3, 7, 1}) {
            Path p = tmp.resolve("cut" + cut + ".onnx");
            Files.write(p, Arrays.copyOf(all, cut));
            refused(p);
        }
        Path empty = tmp.resolve("empty.onnx");
        Files.write(empty, new byte[0]);
        refused(empty, "not an ONNX model");
        Path text = tmp.resolve("text.onnx");
        Files.writeString(text, "{\"this\": \"is json, not protobuf\"}\n");
        refused(text);
        Path safetensors = tmp.resolve("st.onnx");
        Files.copy(Fixtures.file("lstm1.safetensors"), safetensors);
        refused(safetensors);
        // a graph without LSTM: the message lists its ops
        ModelProto noLstm = editGraph(proto("peep_clip"), g -> {
            g.setNode(0, g.getNode(0).toBuilder().setOpType("GRU"));
            return g;
        });
        refused(write("gru.onnx", noLstm), "no LSTM node", "GRU");
    }

    @Test
    void externalDataProblemsNameTheFileAndTensor() throws IOException {
        Path model = tmp.resolve("external.onnx");
        Files.copy(file("external.onnx"), model);
        refused(model, "external.onnx.data", "not found", "tensor '");

        byte[] data = Files.readAllBytes(file("external.onnx.data"));
        Files.write(tmp.resolve("external.onnx.data"), Arrays.copyOf(data, data.length - 10));
        refused(model, "external.onnx.data", "truncated", "tensor '");

        Files.write(tmp.resolve("external.onnx.data"), data);
        assertTrue(error(OnnxImporter.load(model), "external", "reference") <= TOLERANCE, "copied beside the model");

        ModelProto escape = editGraph(proto("external"), g -> {
            TensorProto t = g.getInitializer(0);
            TensorProto.Builder b = t.toBuilder().clearExternalData()
                    .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("../external.onnx.data"));
            return g.setInitializer(0, b);
        });
        Path sub = Files.createDirectories(tmp.resolve("sub"));
        Files.write(sub.resolve("escape.onnx"), escape.toByteArray());
        refused(sub.resolve("escape.onnx"), "outside the model's folder", "tensor '" + escape.getGraph().getInitializer(0).getName());

        ModelProto badLength = editGraph(proto("external"), g -> {
            TensorProto t = g.getInitializer(0);
            TensorProto.Builder b = t.toBuilder();
            for (int i = 0; i < b.getExternalDataCount(); i++) {
                if (b.getExternalData(i).getKey().equals("length")) {
                    b.setExternalData(i, b.getExternalData(i).toBuilder().setValue("12"));
                }
            }
            return g.setInitializer(0, b);
        });
        refused(write("badlength.onnx", badLength), "length 12", "need");
    }

    @Test
    void unsupportedAttributesAreRefusedByName() throws IOException {
        ModelProto m = proto("peep_clip");
        refused(write("if.onnx", editLstm(m, n -> setAttr(n, intAttr("input_forget", 1)))), "'input_forget'", "expected 0");
        refused(write("rev.onnx", editLstm(m, n -> setAttr(n, stringAttr("direction", "reverse")))), "'direction'", "reverse");
        refused(write("lay.onnx", editLstm(m, n -> setAttr(n, intAttr("layout", 2)))), "'layout'", "expected 0 or 1");
        refused(write("foo.onnx", editLstm(m, n -> setAttr(n, intAttr("foo", 1)))), "'foo'", "not supported");
        AttributeProto relu = AttributeProto.newBuilder().setName("activations")
                .setType(AttributeProto.AttributeType.STRINGS).addStrings(ByteString.copyFromUtf8("Relu"))
                .addStrings(ByteString.copyFromUtf8("Tanh")).addStrings(ByteString.copyFromUtf8("Tanh")).build();
        refused(write("relu.onnx", editLstm(m, n -> setAttr(n, relu))), "'activations'", "Sigmoid", "Relu");
        AttributeProto alpha = AttributeProto.newBuilder().setName("activation_alpha")
                .setType(AttributeProto.AttributeType.FLOATS).addFloats(0.1f).build();
        refused(write("alpha.onnx", editLstm(m, n -> setAttr(n, alpha))), "'activation_alpha'");
        AttributeProto clip = AttributeProto.newBuilder().setName("clip").setType(AttributeProto.AttributeType.FLOAT)
                .setF(-1f).build();
        refused(write("clip.onnx", editLstm(m, n -> setAttr(n, clip))), "'clip'", "> 0");
        // the default activations, spelled out, are accepted
        AttributeProto std = AttributeProto.newBuilder().setName("activations")
                .setType(AttributeProto.AttributeType.STRINGS).addStrings(ByteString.copyFromUtf8("Sigmoid"))
                .addStrings(ByteString.copyFromUtf8("Tanh")).addStrings(ByteString.copyFromUtf8("Tanh")).build();
        LstmModel ok = OnnxImporter.load(write("std.onnx", editLstm(m, n -> setAttr(n, std))));
        assertTrue(error(ok, "peep_clip", "reference") <= TOLERANCE);
    }

    @Test
    void wrongShapesAndTypesNameTheTensor() throws IOException {
        ModelProto m = proto("peep_clip");
        ModelProto shortR = editGraph(m, g -> {
            for (int i = 0; i < g.getInitializerCount(); i++) {
                if (g.getInitializer(i).getName().equals("R")) {
                    TensorProto t = g.getInitializer(i);
                    g.setInitializer(i, t.toBuilder().setDims(1, t.getDims(1) - 4));
                }
            }
            return g;
        });
        refused(write("shortR.onnx", shortR), "tensor 'R'", "expected shape [1, 20, 5]");
        ModelProto shortRaw = editGraph(m, g -> {
            TensorProto t = g.getInitializer(0);
            return g.setInitializer(0, t.toBuilder().setRawData(t.getRawData().substring(4)));
        });
        refused(write("shortRaw.onnx", shortRaw), "tensor '" + m.getGraph().getInitializer(0).getName() + "'", "raw_data");
        ModelProto ints = editGraph(m, g -> g.setInitializer(0, g.getInitializer(0).toBuilder().setDataType(7)));
        refused(write("ints.onnx", ints), "INT64", "FLOAT16");
        ModelProto notConst = editGraph(m, g -> {
            for (int i = g.getInitializerCount() - 1; i >= 0; i--) {
                if (g.getInitializer(i).getName().equals("W")) g.removeInitializer(i);
            }
            return g;
        });
        refused(write("nonconst.onnx", notConst), "tensor 'W'", "not an initializer");
    }

    /** Two LSTMs that are not a stack: the error lists them; naming one imports it. */
    @Test
    void separateLstmNodesAreChosenByName() throws IOException {
        ModelProto two = editGraph(proto("peep_clip"), g -> {
            NodeProto n = g.getNode(0);
            NodeProto.Builder b = n.toBuilder().setName("second").clearOutput().addOutput("Y2");
            return g.addNode(b);
        });
        Path p = write("two.onnx", two);
        refused(p, "2 LSTM nodes", "'peep_clip_lstm'", "'second'", "name the one");
        assertEquals(List.of("peep_clip_lstm", "second"), OnnxImporter.lstmNodes(p));
        for (String name : List.of("peep_clip_lstm", "second", "#1")) {
            LstmModel m = Models.load(p, name);
            assertEquals(1, m.config().layers());
            assertTrue(error(m, "peep_clip", "reference") <= TOLERANCE, name);
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Models.load(p, "third"));
        assertTrue(e.getMessage().contains("no LSTM node named 'third'") && e.getMessage().contains("'second'"),
                e.getMessage());
    }

    /** torch.onnx.export's 2-layer graph is one stack; each node alone is a 1-layer LSTM. */
    @Test
    void exportedLayersAreOneStackOrSingleNodes() throws IOException {
        Path p = file("torch2.onnx");
        List<String> nodes = OnnxImporter.lstmNodes(p);
        assertEquals(2, nodes.size());
        assertEquals(2, OnnxImporter.load(p).config().layers());
        LstmModel second = OnnxImporter.load(p, nodes.get(1));
        assertEquals(1, second.config().layers());
        assertEquals(second.config().hiddenSize(), second.config().inputSize());
        // break the chain: the second layer reads the graph input instead of the first layer's Y
        ModelProto m = proto("torch2");
        ModelProto broken = editGraph(m, g -> {
            for (int i = 0; i < g.getNodeCount(); i++) {
                if (g.getNode(i).getName().equals(nodes.get(1))) g.setNode(i, g.getNode(i).toBuilder().setInput(0, "x"));
            }
            return g;
        });
        Path q = tmp.resolve("broken.onnx");
        Files.write(q, broken.toByteArray());
        Files.copy(file("torch2.onnx.data"), tmp.resolve("torch2.onnx.data"));
        refused(q, "not one stack", "does not read the Y");
    }

    /** A bidirectional stack's Y must be transposed [T, D, B, H] → [T, B, D, H] before the reshape: without, no stack. */
    @Test
    void aBidirectionalChainNeedsItsTranspose() throws IOException {
        assertEquals(2, OnnxImporter.load(file("torch_bi2.onnx")).config().layers());
        ModelProto m = proto("torch_bi2");
        ModelProto noTranspose = editGraph(m, g -> {
            for (int i = 0; i < g.getNodeCount(); i++) {
                NodeProto n = g.getNode(i);
                if (n.getOpType().equals("Reshape") && g.getNodeList().stream().anyMatch(
                        t -> t.getOpType().equals("Transpose") && t.getOutput(0).equals(n.getInput(0))
                                && t.getInput(0).equals(g.getNode(0).getOutput(0)))) {
                    g.setNode(i, n.toBuilder().setInput(0, g.getNode(0).getOutput(0)));
                }
            }
            return g;
        });
        Files.copy(file("torch_bi2.onnx.data"), tmp.resolve("torch_bi2.onnx.data"));
        refused(write("notranspose.onnx", noTranspose), "not one stack", "does not read the Y");
    }

    /** The same weights in every way the format stores them: typed fields, double, Constant nodes, float16 as int32. */
    @Test
    void everyStorageOfTheWeightsReadsTheSame() throws IOException {
        ModelProto m = proto("peep_clip");
        // float_data instead of raw_data; and as double_data
        for (int type : new int[] {1, 11}) {
            ModelProto typed = editGraph(m, g -> {
                for (int i = 0; i < g.getInitializerCount(); i++) {
                    TensorProto t = g.getInitializer(i);
                    float[] v = new float[t.getRawData().size() / 4];
                    t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
                    TensorProto.Builder b = t.toBuilder().clearRawData().setDataType(type);
                    for (float f : v) {
                        if (type == 1) b.addFloatData(f);
                        else b.addDoubleData(f);
                    }
                    g.setInitializer(i, b);
                }
                return g;
            });
            LstmModel got = OnnxImporter.load(write("typed" + type + ".onnx", typed));
            assertEquals(List.of(type == 1 ? "F32" : "F64"), got.info().dtypes());
            assertTrue(error(got, "peep_clip", "reference") <= TOLERANCE, "data_type " + type);
        }
        // weights in Constant nodes instead of initializers
        ModelProto constants = editGraph(m, g -> {
            List<NodeProto> consts = new ArrayList<>();
            for (TensorProto t : g.getInitializerList()) {
                consts.add(NodeProto.newBuilder().setOpType("Constant").setName("const_" + t.getName())
                        .addOutput(t.getName()).addAttribute(AttributeProto.newBuilder().setName("value")
                                .setType(AttributeProto.AttributeType.TENSOR).setT(t)).build());
            }
            List<NodeProto> nodes = new ArrayList<>(consts);
            nodes.addAll(g.getNodeList());
            return g.clearInitializer().clearNode().addAllNode(nodes);
        });
        assertTrue(error(OnnxImporter.load(write("constants.onnx", constants)), "peep_clip", "reference") <= TOLERANCE);
        // float16 in int32_data (the typed field of float16) instead of raw_data
        ModelProto f16 = proto("f16");
        ModelProto f16Typed = editGraph(f16, g -> {
            for (int i = 0; i < g.getInitializerCount(); i++) {
                TensorProto t = g.getInitializer(i);
                ByteBuffer bb = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                TensorProto.Builder b = t.toBuilder().clearRawData();
                while (bb.hasRemaining()) b.addInt32Data(bb.getShort() & 0xffff);
                g.setInitializer(i, b);
            }
            return g;
        });
        LstmModel got = OnnxImporter.load(write("f16typed.onnx", f16Typed));
        assertEquals(List.of("F16"), got.info().dtypes());
        assertTrue(error(got, "f16", "reference") <= TOLERANCE);
        // bfloat16: float32 weights with the low 16 bits zero are exactly bfloat16; read back as the same floats
        ModelProto bf16 = editGraph(f16, g -> {
            for (int i = 0; i < g.getInitializerCount(); i++) {
                TensorProto t = g.getInitializer(i);
                ByteBuffer in = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                ByteBuffer out = ByteBuffer.allocate(in.remaining()).order(ByteOrder.LITTLE_ENDIAN);
                while (in.hasRemaining()) {
                    out.putShort((short) (Float.floatToIntBits(Float.float16ToFloat(in.getShort())) >>> 16));
                }
                g.setInitializer(i, t.toBuilder().setDataType(16).setRawData(ByteString.copyFrom(out.flip())));
            }
            return g;
        });
        LstmModel bf = OnnxImporter.load(write("bf16.onnx", bf16));
        LstmModel f = OnnxImporter.load(file("f16.onnx"));
        assertEquals(List.of("BF16"), bf.info().dtypes());
        float[] fw = f.weights().get(0, 0).wIh().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
        float[] bw = bf.weights().get(0, 0).wIh().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
        for (int i = 0; i < fw.length; i++) {
            float truncated = Float.intBitsToFloat(Float.floatToIntBits(fw[i]) & 0xffff0000);
            assertEquals(truncated, bw[i], "bfloat16 element " + i);
        }
    }

    /** hidden_size may be left out (R gives it); sequence_lens and the initial state are the caller's, per call. */
    @Test
    void optionalInputsAndAttributes() throws IOException {
        ModelProto m = proto("peep_clip");
        ModelProto noHidden = editLstm(m, n -> {
            for (int i = n.getAttributeCount() - 1; i >= 0; i--) {
                if (n.getAttribute(i).getName().equals("hidden_size")) n.removeAttribute(i);
            }
            return n;
        });
        assertTrue(error(OnnxImporter.load(write("nohidden.onnx", noHidden)), "peep_clip", "reference") <= TOLERANCE);
        // sequence_lens as a graph input: the lengths of each call, not part of the model
        ModelProto lens = editLstm(m, n -> n.setInput(4, "lens"));
        assertTrue(error(OnnxImporter.load(write("lens.onnx", lens)), "peep_clip", "reference") <= TOLERANCE);
        ModelProto constLens = editGraph(lens, g -> g.addInitializer(TensorProto.newBuilder().setName("lens")
                .setDataType(6).addDims(4).addAllInt32Data(List.of(6, 6, 6, 6))));
        refused(write("constlens.onnx", constLens), "tensor 'lens'", "sequence_lens");
        // a constant initial state must be zeros (torch.onnx.export writes zeros)
        for (float v : new float[] {0f, 0.5f}) {
            ModelProto h0 = editGraph(editLstm(m, n -> n.setInput(5, "h0")), g -> {
                TensorProto.Builder t = TensorProto.newBuilder().setName("h0").setDataType(1).addDims(1).addDims(4)
                        .addDims(5);
                for (int i = 0; i < 20; i++) t.addFloatData(i == 7 ? v : 0f);
                return g.addInitializer(t);
            });
            Path p = write("h0.onnx", h0);
            if (v == 0) assertTrue(error(OnnxImporter.load(p), "peep_clip", "reference") <= TOLERANCE);
            else refused(p, "tensor 'h0'", "initial_h", "must be zeros");
        }
    }
}
