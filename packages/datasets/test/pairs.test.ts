import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pairImageLabelFiles, patientOrId } from "../src/pairs.js";
import { withTmp } from "./shared.js";

describe("the one image/label pairing rule", () => {
  it("pairs volumes by name (any volume format, other files ignored), sorted, and names what is missing", async () => {
    await withTmp(async (dir) => {
      const images = join(dir, "images");
      const labels = join(dir, "labels");
      await mkdir(images);
      await mkdir(labels);
      for (const f of ["b.mhd", "a.nii.gz", "c.nii", "notes.txt"]) await writeFile(join(images, f), "");
      for (const f of ["a.nii.gz", "b.mhd", "c.nii"]) await writeFile(join(labels, f), "");
      expect(await pairImageLabelFiles(images, labels)).toEqual([
        { id: "a", image: join(images, "a.nii.gz"), label: join(labels, "a.nii.gz") },
        { id: "b", image: join(images, "b.mhd"), label: join(labels, "b.mhd") },
        { id: "c", image: join(images, "c.nii"), label: join(labels, "c.nii") },
      ]);
      await rm(join(labels, "b.mhd"));
      await expect(pairImageLabelFiles(images, labels, { labelWord: "mask" })).rejects.toThrow(
        `${join(labels, "b")}: missing mask for image b.mhd`,
      );
      await expect(pairImageLabelFiles(labels, join(dir, "nowhere"))).rejects.toThrow(
        `${join(dir, "nowhere")}: no such file or folder`,
      );
      const empty = join(dir, "empty");
      await mkdir(empty);
      await expect(pairImageLabelFiles(empty, labels)).rejects.toThrow(`${empty}: no volume found`);
    });
  });

  it("patientOrId: the LIDC patient when the id has one, else the id", () => {
    expect(patientOrId("LIDC-IDRI-0003_R_2")).toBe("LIDC-IDRI-0003");
    expect(patientOrId("x_LIDC-IDRI-0120_R_4")).toBe("LIDC-IDRI-0120");
    expect(patientOrId("case7")).toBe("case7");
  });
});
