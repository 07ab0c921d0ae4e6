-- AlterTable
ALTER TABLE "Job" ADD COLUMN "deletedAt" DATETIME;
