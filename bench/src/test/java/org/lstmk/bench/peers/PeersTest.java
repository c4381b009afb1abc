package org.lstmk.bench.peers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each peer's weight conversion, on a tiny problem (odd sizes, several steps, B > 1): its output must be our
 * reference's ({@link Peers#check}). Only under {@code -Ppeers}; the oneDNN peer is skipped where libdnnl is absent.
 */
class PeersTest {
    @ParameterizedTest
    @ValueSource(strings = {"simd", "reference", "onednn", "onnxruntime", "djl-pytorch", "tensorflow", "dl4j"})
    void sameOutputAsTheReference(String name) throws Throwable {
        Peer peer = Peers.of(name);
        assumeTrue(peer.unavailable() == null, () -> name + ": " + peer.unavailable());
        Problem p = Problem.of(13, 3, 7, 11);
        try (Peer.Runner r = peer.open(p, 1)) {
            String s = Peers.check(name, p, r);
            assertTrue(s.startsWith(name), s);
            assertEquals(7 * 3 * 13, r.output().length);
        }
    }

    @Test
    void oneDnnTrainingGivesOurInputGradient() throws Throwable {
        Peer peer = Peers.of("onednn");
        assumeTrue(peer.unavailable() == null, () -> "onednn: " + peer.unavailable());
        Problem p = Problem.of(13, 3, 7, 11);
        try (Peer.Runner r = peer.open(p, 1)) {
            Peers.checkTraining("onednn", p, r);
        }
    }

    @Test
    void aWrongPeerIsCaught() throws Throwable {
        Problem p = Problem.of(13, 3, 7, 11);
        Problem wrong = new Problem(13, 3, 7, p.wIh(), p.wHh(), Problem.regate(p.bIh(), 13, OrtPeer.IOFC), p.bHh(),
                p.x(), p.dy());
        try (Peer.Runner r = new OursPeer("simd").open(wrong, 1)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Peers.check("wrong", p, r));
            assertTrue(e.getMessage().contains("wrong disagrees with reference"), e.getMessage());
        }
    }

    @Test
    void regateMovesWholeGateBlocks() {
        float[] a = {0, 0, 1, 1, 2, 2, 3, 3}; // [4H] with H = 2, gate k's values = k
        assertArrayEquals(new float[] {0, 0, 3, 3, 1, 1, 2, 2}, Problem.regate(a, 2, OrtPeer.IOFC));
    }
}
