package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/aibud/aibud/ai"
	"github.com/aibud/aibud/ai/gemini"
	"github.com/aibud/aibud/ai/rules"
	"github.com/aibud/aibud/tenants"
)

// newClassifier is the offline rules, or Gemini with the rules as its
// fallback when a key is configured.
func newClassifier(ctx context.Context, cfg Config, logger *slog.Logger) (tenants.Classifier, error) {
	offline := rules.New()
	if cfg.GeminiKey == "" {
		logger.Info("replies are classified by the offline rules (set GEMINI_API_KEY to use Gemini)")
		return offline, nil
	}
	c, err := gemini.New(ctx, gemini.Config{APIKey: cfg.GeminiKey, Model: cfg.GeminiModel, Fallback: offline, Logger: logger.With("component", "gemini")})
	if err != nil {
		return nil, fmt.Errorf("GEMINI_API_KEY: %w", err)
	}
	logger.Info("replies are classified by Gemini, with the offline rules as fallback", "model", cfg.GeminiModel)
	return c, nil
}

// classifyCommand is `aibud classify`: the configured classifier (offline
// unless GEMINI_API_KEY is set) over JSON lines.
func classifyCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(nil, getenv, stderr)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return fmt.Errorf("aibud classify takes no arguments; it reads JSON lines on stdin")
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := newClassifier(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return ai.RunClassify(ctx, c, stdin, stdout)
}

// evalCommand is `aibud eval [FILE]`: the offline rules on the labelled set.
func evalCommand(args []string, stdout, stderr io.Writer) error {
	path := ai.DefaultEvalPath
	if len(args) > 0 {
		path = args[0]
	}
	return ai.RunEval(rules.New(), path, stdout)
}
